"""Backups of a MaiRust installation and their restore (``mairust backup`` / ``restore``).

A backup is a directory: the metadata (an SQLite online-backup copy, or every table of
PostgreSQL read in one snapshot into portable JSON lines), every blob a message of that
metadata names, the FTS5 search index when it is embedded, the data dir's small files and
the config file, and ``manifest.json`` (written last) with counts and checksums. Secrets
stay sealed as stored; the master key is left out unless asked for.
"""
