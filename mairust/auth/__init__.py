"""Email authentication: SPF, DKIM, DMARC, ARC — pure checks over an injected resolver.

Each mechanism is one module with one entry function returning a value object from
``results.py`` (RFC 8601 words). A DNS failure is ``temperror``, never ``fail``.
"""
