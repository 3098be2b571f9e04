"""One reply line written straight to a connection's transport, whichever event loop made it.

Some replies bypass aiosmtpd's writer (a refusal before the greeting, a shutdown, a time
limit, DATA far past the size limit). uvloop's transports, which Ray's async actors (the
SMTP front-end) run on, are not subclasses of ``asyncio.WriteTransport``, so a check for
that class silently skipped the reply there: the client saw the connection close without
a word. What matters is only that the transport can write.
"""

from __future__ import annotations

import asyncio


def reply_and_close(transport: asyncio.BaseTransport, reply: str) -> None:
    """Write ``reply`` (one line, CRLF added) if the transport writes, then close it."""
    write = getattr(transport, "write", None)
    if callable(write):
        write(reply.encode("ascii") + b"\r\n")
    transport.close()
