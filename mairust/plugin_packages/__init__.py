"""Plugin packages: signed ``.tar.gz`` files of a plugin's directory, and catalogs of them.

``archive`` packs a directory deterministically and unpacks a package as the hostile input
it is; ``signing`` makes and checks the detached ed25519 signature (``FILE.sig``);
``catalog`` reads and builds a catalog's ``index.json`` and picks the version this MaiRust
can run; ``source`` fetches an index and packages from a directory or an http(s) URL into
a local cache. :mod:`mairust.services.plugin_catalog` puts them together for installs.
"""
