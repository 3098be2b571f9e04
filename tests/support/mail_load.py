"""Bounded SMTP load on loopback that records how far each message got: the sender's truth
that crash and fault scenarios hold the stores against.

Every message carries a token of its own (in MAIL FROM, Subject, Message-ID and body), so a
scenario can tell afterwards, from the stores alone, which of them were stored. Each message
ends in one of these places:

- ``acknowledged``: 250 after the end of DATA (the promise: delivered exactly once);
- ``uncertain``: the end of DATA was sent but no 250 came back (connection lost, 4xx): the
  server may have committed it (RFC 5321 §6.1 allows that duplicate), so it must be stored
  for all its recipients or for none, never twice;
- ``unsent``: the client never sent the end of DATA (refused earlier, cut mid-body): it must
  not be visible anywhere.

Sessions can also *stall* in DATA (part of the body sent, the rest held back) so that a
kill finds transactions open for sure.
"""

from __future__ import annotations

import contextlib
import secrets
import smtplib
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

DOMAIN = "remote.example"


@dataclass
class Attempt:
    """One message as its sender saw it."""

    token: str
    recipients: tuple[str, ...]
    phase: str = "envelope"  # envelope -> body -> dot (end of DATA sent) -> replied
    code: int | None = None  # the reply to the end of DATA (or the refusal before it)
    reply: str = ""
    message_id: str | None = None
    error: str = ""
    # Seconds each command waited for its reply: (command, seconds).
    latencies: list[tuple[str, float]] = field(default_factory=list)
    # time.monotonic() when the end of DATA was sent and when the last reply came.
    dot_at: float | None = None
    replied_at: float | None = None

    @property
    def sender(self) -> str:
        return f"{self.token}@{DOMAIN}"

    @property
    def acknowledged(self) -> bool:
        return self.phase == "replied" and self.code == 250

    @property
    def uncertain(self) -> bool:
        return self.phase in ("dot", "replied") and not self.acknowledged

    @property
    def unsent(self) -> bool:
        return self.phase in ("envelope", "body")

    def content(self, size: int) -> bytes:
        head = (
            f"From: <{self.sender}>\r\nTo: {', '.join(self.recipients)}\r\n"
            f"Subject: load {self.token}\r\nMessage-ID: <{self.token}@{DOMAIN}>\r\n\r\n"
            f"body of {self.token}\r\n"
        )
        line = "x" * 76 + "\r\n"  # no line starts with a dot: nothing to stuff
        padding = line * max(0, (size - len(head)) // len(line))
        return (head + padding).encode()


class MailLoad:
    """``sessions`` client threads sending up to ``per_session`` messages each, and
    ``stallers`` threads that open a transaction and hold it in DATA until released."""

    def __init__(
        self,
        port: int,
        recipients: tuple[str, ...],
        *,
        sessions: int = 4,
        per_session: int = 50,
        stallers: int = 0,
        size: int = 4096,
        pause: float = 0.0,
        timeout: float = 60.0,
    ) -> None:
        self.port = port
        self.recipients = recipients
        self.sessions = sessions
        self.per_session = per_session
        self.stallers = stallers
        self.size = size
        self.pause = pause
        self.timeout = timeout
        self.run_id = secrets.token_hex(3)
        self.attempts: list[Attempt] = []
        self.connect_failures = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._release = threading.Event()
        self._threads: list[threading.Thread] = []

    # -- control -------------------------------------------------------------------

    def start(self) -> MailLoad:
        for n in range(self.sessions):
            self._spawn(self._send_loop, f"load-{n}")
        for n in range(self.stallers):
            self._spawn(self._stall, f"stall-{n}")
        return self

    def release(self) -> None:
        """Let the stalled transactions send the rest of their body."""
        self._release.set()

    def stop(self, timeout: float = 120.0) -> None:
        """Stop after the messages in flight; stalled transactions not yet released are
        abandoned mid-body (their connection closed without the end of DATA)."""
        self._stop.set()
        self._release.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.1, deadline - time.monotonic()))
        alive = [t.name for t in self._threads if t.is_alive()]
        assert not alive, f"load threads did not end: {alive}"

    def running(self) -> bool:
        return any(t.is_alive() for t in self._threads if t.name.startswith("load-"))

    # -- what happened ---------------------------------------------------------------

    def snapshot(self) -> list[Attempt]:
        with self._lock:
            return list(self.attempts)

    def in_phase(self, phase: str) -> list[Attempt]:
        return [a for a in self.snapshot() if a.phase == phase]

    @property
    def acknowledged(self) -> list[Attempt]:
        return [a for a in self.snapshot() if a.acknowledged]

    # -- sessions --------------------------------------------------------------------

    def _spawn(self, target: object, name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)  # type: ignore[arg-type]
        self._threads.append(thread)
        thread.start()

    def _new_attempt(self) -> Attempt:
        with self._lock:
            attempt = Attempt(f"tok{self.run_id}n{len(self.attempts):05d}", self.recipients)
            self.attempts.append(attempt)
        return attempt

    def _send_loop(self) -> None:
        sent = 0
        while sent < self.per_session and not self._stop.is_set():
            try:
                with self._session() as smtp:
                    while sent < self.per_session and not self._stop.is_set():
                        sent += 1
                        attempt = self._new_attempt()
                        if not self._transaction(smtp, attempt):
                            break  # the session is gone or unusable: open another
                        if self.pause:
                            time.sleep(self.pause)
            except (OSError, smtplib.SMTPException):
                with self._lock:
                    self.connect_failures += 1
                time.sleep(0.2)  # the server is away: try again shortly, until stopped

    def _stall(self) -> None:
        with contextlib.suppress(OSError, smtplib.SMTPException), self._session() as smtp:
            attempt = self._new_attempt()
            self._transaction(smtp, attempt, hold=self._release)

    @contextlib.contextmanager
    def _session(self) -> Iterator[smtplib.SMTP]:
        smtp = smtplib.SMTP("127.0.0.1", self.port, timeout=self.timeout)
        try:
            smtp.ehlo("load.example")
            yield smtp
        finally:
            with contextlib.suppress(OSError, smtplib.SMTPException):
                smtp.close()

    def _timed(self, attempt: Attempt, command: str, call: object) -> tuple[int, bytes]:
        began = time.monotonic()
        try:
            code, reply = call()  # type: ignore[operator]
        finally:
            attempt.replied_at = time.monotonic()
            attempt.latencies.append((command, attempt.replied_at - began))
        return int(code), reply

    def _transaction(
        self, smtp: smtplib.SMTP, attempt: Attempt, hold: threading.Event | None = None
    ) -> bool:
        """One MAIL..DATA transaction; False when the session must not be used again."""
        try:
            code, reply = self._timed(attempt, "MAIL", lambda: smtp.mail(attempt.sender))
            if code == 250:
                for rcpt in attempt.recipients:
                    code, reply = self._timed(attempt, "RCPT", lambda r=rcpt: smtp.rcpt(r))
                    if code != 250:
                        break
            if code == 250:
                code, reply = self._timed(attempt, "DATA", lambda: smtp.docmd("DATA"))
            if code != 354:
                attempt.code, attempt.reply = code, reply.decode(errors="replace")
                smtp.rset()
                return True
            attempt.phase = "body"
            content = attempt.content(self.size)
            half = len(content) // 2
            smtp.send(content[:half])
            if hold is not None:
                hold.wait()
                if self._stop.is_set():  # abandoned mid-body, as a client that gave up
                    attempt.error = "abandoned in DATA"
                    return False
            smtp.send(content[half:])
            attempt.phase = "dot"  # from here on the server may have committed it
            attempt.dot_at = time.monotonic()
            smtp.send(b"\r\n.\r\n")
            code, reply = self._timed(attempt, "end of DATA", smtp.getreply)
        except (OSError, smtplib.SMTPException) as error:
            attempt.error = repr(error)
            return False
        attempt.code, attempt.reply, attempt.phase = code, reply.decode(errors="replace"), "replied"
        if code == 250:
            words = attempt.reply.split()
            if "as" in words:
                attempt.message_id = words[words.index("as") + 1]
        return True


def wait_until_listening(port: int, timeout: float) -> float:
    """Seconds until 127.0.0.1:``port`` answers SMTP with a 220 again."""
    began = time.monotonic()
    deadline = began + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
                sock.settimeout(5)
                if sock.recv(4).startswith(b"220"):
                    return time.monotonic() - began
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"SMTP on port {port} did not answer within {timeout} s")
