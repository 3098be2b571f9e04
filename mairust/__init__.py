"""MaiRust core library: everything that runs without Ray.

Layers, top to bottom (a module imports only from layers above it):
``config, errors, events`` → ``model`` → ``routing`` → ``storage`` → ``spool`` →
``smtp`` → ``pipeline`` → ``api`` → ``cli``. The core never imports ``ray``;
``actors/``, ``serve/`` and ``cluster/`` host it in a Ray cluster.
"""

__version__ = "0.1.0"
