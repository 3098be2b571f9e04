"""The OpenAPI document exactly as a default `mairust up` serves it, without a server.

The web UI's typed client is generated from a committed copy of it (``web/openapi.json``);
``tests/mairust/api/test_openapi_document.py`` fails when the copy and the app differ.
Write the copy anew after changing a route or a schema::

    .venv/bin/python -m mairust.api.openapi_document > web/openapi.json   # or: make openapi
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from mairust.api.app import create_app
from mairust.config import Settings
from mairust.storage.factory import migrate, open_stores

# Digest keys only key tokens; the document does not depend on them.
_THROWAWAY_KEYS = (b"k" * 32,)


def openapi_document() -> dict[str, Any]:
    """The document of an app on default settings over throwaway embedded stores."""
    with tempfile.TemporaryDirectory(prefix="mairust-openapi-") as data_dir:
        settings = Settings(data_dir=Path(data_dir))
        migrate(settings.storage)
        stores = open_stores(settings.storage)
        try:
            return create_app(settings, stores, _THROWAWAY_KEYS).openapi()
        finally:
            stores.close()


def render(document: dict[str, Any]) -> str:
    """The committed form: indented, keys in the app's order, one newline at the end."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def main() -> None:
    sys.stdout.write(render(openapi_document()))


if __name__ == "__main__":
    main()
