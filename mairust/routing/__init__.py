"""Where a recipient's copy goes: pure decisions over an injected directory."""
