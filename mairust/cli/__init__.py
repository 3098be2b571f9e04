"""The ``mairust`` commands that need no Ray: directory and queue administration.

They open the stores named by the configuration directly (SQLite in WAL mode is
safe to share with a running ``mairust up``). ``cluster.cli`` adds ``up`` and
exposes everything as the ``mairust`` command.
"""
