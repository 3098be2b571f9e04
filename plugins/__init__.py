"""The bundled plugins, one package each, written against ``mairust.plugin_sdk`` only."""
