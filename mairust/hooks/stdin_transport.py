"""The ``stdin`` transport: a plugin that is a long-lived child process of each process that
calls it, spoken to in JSON lines over its standard input and output.

Each call is one line to the child, ``{"id": N, "config": {...}, "request": <HookRequest>}``,
and each answer one line back, ``{"id": N, "response": <HookResponse>}`` or
``{"id": N, "error": "..."}``, in any order: several calls are in flight at once. The
plugin's configuration travels in every call (a configuration change applies with the next
call, nothing to restart; a plugin compiles it once and compares). Secrets are not passed:
a plugin that needs one is better an ``http`` or ``serve`` plugin, which the secret store
serves. The child's standard error is its log (logged here, line by line), and it ends when
its standard input closes.

The child is started by the first call, and started again by the call after it died (the
calls in flight at its death fail: the binding's ``on_error`` verdict). A child that dies
young (under ``stable_seconds``) more than once is started again only after a backoff,
doubled each time, so a plugin that dies at once is not forked in a loop; the calls in
between fail at once. Back-pressure: at most ``max_in_flight`` calls are in flight to the
child (the manifest's ``autoscaling.max_ongoing_requests``: the child is the plugin's one
replica); a call beyond them waits for a slot, within the chain's deadline. A request line
over ``max_request_bytes`` is refused before it is sent; an answer line over
``max_answer_bytes`` is dropped (its call then times out). ``aclose`` closes the child's
input, terminates it if it is still there half of ``stop_seconds`` later, and kills it
after the other half.

The command is the manifest's entrypoint split as a shell would (no shell runs it); a
relative program path (``bin/plugin``) is the plugin's installed directory's, which is also
the child's working directory. The child gets a small environment (``PATH``, locale, ``HOME``
and its own name and version), never the platform's: that holds the platform's credentials.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import os
import shlex
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from mairust.hooks.chain import Binding
from mairust.hooks.http_transport import PluginFailed
from mairust.hooks.manifest import Manifest
from mairust.hooks.wire import HookRequest, HookResponse
from mairust.model.plugins import InstalledPlugin

_log = logging.getLogger(__name__)

# What the child inherits of the platform's environment.
_PASSED_ENVIRONMENT = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR")


@dataclass(frozen=True, slots=True)
class StdinLimits:
    max_in_flight: int = 64
    # A full-body request carries the message in base64: room for the largest message.
    max_request_bytes: int = 64 * 1024 * 1024
    # An answer is small (a verdict, a few tags and header edits).
    max_answer_bytes: int = 1024 * 1024
    stop_seconds: float = 2.0
    # A child that lived this long did not "die at once": the next start does not wait.
    stable_seconds: float = 10.0
    backoff_base_seconds: float = 0.5
    backoff_max_seconds: float = 30.0


def command_of(entrypoint: str, directory: Path) -> list[str]:
    """The child's command line: ``entrypoint`` split as a shell would, a relative program
    path taken in ``directory`` (a bare name is looked up on ``PATH``)."""
    argv = shlex.split(entrypoint)
    if not argv:
        raise ValueError("an empty command line")
    program = argv[0]
    if "/" in program and not os.path.isabs(program):
        argv[0] = str(directory / program)
    return argv


def child_environment(name: str, version: str) -> dict[str, str]:
    passed = {key: os.environ[key] for key in _PASSED_ENVIRONMENT if key in os.environ}
    return passed | {"MAIRUST_PLUGIN": name, "MAIRUST_PLUGIN_VERSION": version}


def stdin_plugin(
    plugin: InstalledPlugin,
    manifest: Manifest,
    directory: Path,
    config: Callable[[], Mapping[str, Any]],
) -> StdinPlugin:
    """The transport of an installed stdin plugin whose files are in ``directory``."""
    return StdinPlugin(
        plugin.name,
        command_of(manifest.transport.entrypoint, directory),
        directory,
        config,
        env=child_environment(plugin.name, plugin.version),
        limits=StdinLimits(max_in_flight=manifest.autoscaling.max_ongoing_requests),
    )


@dataclass(slots=True, eq=False)
class _Child:
    """One running process and the calls waiting on its answers."""

    process: asyncio.subprocess.Process
    started_at: float
    pending: dict[int, asyncio.Future[HookResponse]] = field(default_factory=dict)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)


class StdinPlugin:
    """Calls one ``stdin`` plugin: its child process, started and restarted as needed."""

    def __init__(
        self,
        name: str,
        command: Sequence[str],
        directory: Path,
        config: Callable[[], Mapping[str, Any]],
        *,
        env: Mapping[str, str] | None = None,
        limits: StdinLimits = StdinLimits(),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``config()``: the plugin's configuration now (sent with every call)."""
        self.name = name
        self._command = list(command)
        self._directory = directory
        self._config = config
        self._env = dict(env) if env is not None else child_environment(name, "")
        self._limits = limits
        self._clock = clock
        self._slots = asyncio.Semaphore(limits.max_in_flight)
        self._starting: asyncio.Future[_Child] | None = None
        self._ids = itertools.count(1)
        self._child: _Child | None = None
        self._young_deaths = 0
        self._next_start = float("-inf")
        self._closed = False
        self._stderr = logging.getLogger(f"{__name__}.{name}")
        self.starts = 0  # processes started (a figure for logs and tests)

    @property
    def pid(self) -> int | None:
        """The running child's process id (None: none runs now)."""
        return self._child.process.pid if self._child is not None else None

    async def __call__(self, binding: Binding, request: HookRequest) -> HookResponse:
        body = self._body(request)
        async with self._slots:  # back-pressure: the chain's deadline bounds the wait
            child = await self._running_child()
            call_id = next(self._ids)
            answer: asyncio.Future[HookResponse] = asyncio.get_running_loop().create_future()
            child.pending[call_id] = answer
            try:
                stdin = child.process.stdin
                assert stdin is not None  # started with a pipe
                stdin.write(b'{"id":%d,%s}\n' % (call_id, body))
                await stdin.drain()
                return await answer
            except (BrokenPipeError, ConnectionResetError) as error:
                # It is gone: its end is noted first, so the next call starts another.
                await asyncio.wait(child.tasks[:1], timeout=self._limits.stop_seconds)
                raise PluginFailed(f"plugin {self.name}: its process closed its input") from error
            finally:
                child.pending.pop(call_id, None)

    def _body(self, request: HookRequest) -> bytes:
        """The call line but its id; PluginFailed when it is over the limit."""
        config = json.dumps(dict(self._config()), separators=(",", ":"))
        body = b'"config":%s,"request":%s' % (config.encode(), request.model_dump_json().encode())
        if len(body) > self._limits.max_request_bytes:
            raise PluginFailed(
                f"plugin {self.name}: a request of {len(body)} bytes "
                f"(at most {self._limits.max_request_bytes} go to a stdin plugin)"
            )
        return body

    async def _running_child(self) -> _Child:
        if self._closed:
            raise PluginFailed(f"plugin {self.name}: closed")
        if self._child is not None:
            return self._child
        if self._starting is None:  # calls arriving together wait for one start
            wait = self._next_start - self._clock()
            if wait > 0:
                raise PluginFailed(
                    f"plugin {self.name}: its process keeps dying; started again in {wait:.1f} s"
                )
            self._starting = asyncio.ensure_future(self._start())
            self._starting.add_done_callback(_retrieved)
        # Shielded: a caller's deadline must not leave a started child unrecorded.
        return await asyncio.shield(self._starting)

    async def _start(self) -> _Child:
        self.starts += 1
        try:
            process = await asyncio.create_subprocess_exec(
                *self._command,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                cwd=self._directory,
                env=self._env,
                limit=self._limits.max_answer_bytes,
            )
        except OSError as error:
            self._died(0.0)
            raise PluginFailed(
                f"plugin {self.name}: cannot start {self._command[0]!r}: {error}"
            ) from error
        finally:
            self._starting = None
        child = _Child(process, self._clock())
        child.tasks = [
            asyncio.create_task(self._read_answers(child)),
            asyncio.create_task(self._log_stderr(child)),
        ]
        self._child = child
        _log.info("plugin %s: process %d started", self.name, process.pid)
        return child

    def _died(self, lived_seconds: float) -> None:
        """When the next child may start: at once, unless children keep dying young."""
        if lived_seconds >= self._limits.stable_seconds:
            self._young_deaths = 0
            return
        self._young_deaths += 1
        if self._young_deaths > 1:
            delay = self._limits.backoff_base_seconds * 2 ** (self._young_deaths - 2)
            self._next_start = self._clock() + min(delay, self._limits.backoff_max_seconds)

    async def _read_answers(self, child: _Child) -> None:
        stdout = child.process.stdout
        assert stdout is not None
        try:
            while True:
                try:
                    line = await stdout.readuntil(b"\n")
                except asyncio.LimitOverrunError as over:
                    await _skip_line(stdout, over.consumed)
                    _log.warning(
                        "plugin %s: an answer line over %d bytes dropped",
                        self.name,
                        self._limits.max_answer_bytes,
                    )
                    continue
                self._answered(child, line)
        except asyncio.IncompleteReadError:
            pass  # the end of its output: the child ended (or closed it)
        finally:
            await self._ended(child)

    def _answered(self, child: _Child, line: bytes) -> None:
        try:
            data = json.loads(line)
            answer = child.pending.pop(data["id"], None)
        except (ValueError, KeyError, TypeError):
            _log.warning("plugin %s: a line that is no answer: %.200r", self.name, line)
            return
        if answer is None or answer.done():
            return  # its call is over (timed out): a late answer
        if "error" in data:
            error = str(data["error"])[:400]
            answer.set_exception(PluginFailed(f"plugin {self.name} answered an error: {error}"))
            return
        try:
            answer.set_result(HookResponse.model_validate(data.get("response")))
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "response"
            answer.set_exception(
                PluginFailed(
                    f"plugin {self.name} answered no hook response ({where}: {first['msg']})"
                )
            )

    async def _log_stderr(self, child: _Child) -> None:
        stderr = child.process.stderr
        assert stderr is not None
        while True:
            try:
                line = await stderr.readline()
            except ValueError:  # a line over the limit: dropped, the next one is read
                continue
            if not line:
                return
            text = line.decode("utf-8", errors="replace").rstrip()
            self._stderr.info("[pid %d] %s", child.process.pid, text[:2000])

    async def _ended(self, child: _Child) -> None:
        """The child's output ended: it is gone (made sure of), its calls fail."""
        if self._child is child:
            self._child = None
        await self._stop(child.process)
        code = child.process.returncode
        for answer in child.pending.values():
            if not answer.done():
                answer.set_exception(
                    PluginFailed(f"plugin {self.name}: its process ended (exit code {code})")
                )
        child.pending.clear()
        if not self._closed:
            lived = self._clock() - child.started_at
            _log.warning(
                "plugin %s: process %d ended (exit code %s) after %.1f s; the next call "
                "starts another",
                self.name,
                child.process.pid,
                code,
                lived,
            )
            self._died(lived)

    async def _stop(self, process: asyncio.subprocess.Process) -> None:
        """Close its input (a plugin ends then), terminate it if it is still there after
        half of ``stop_seconds``, kill it after the other half. A child whose output ended
        is usually exiting already: a signal now would replace its own exit code."""
        if process.stdin is not None:
            process.stdin.close()
        grace = self._limits.stop_seconds / 2
        if await _exited(process, grace):
            return
        with contextlib.suppress(ProcessLookupError):
            process.terminate()
        if await _exited(process, grace):
            return
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()

    async def aclose(self) -> None:
        """Stop the child (calls in flight fail); later calls fail."""
        self._closed = True
        if self._starting is not None:
            with contextlib.suppress(PluginFailed):
                await asyncio.shield(self._starting)
        child = self._child
        if child is None:
            return
        await self._stop(child.process)
        await asyncio.gather(*child.tasks, return_exceptions=True)


def _retrieved(start: asyncio.Future[_Child]) -> None:
    """A start's failure is its callers' to report (it may have none left)."""
    if not start.cancelled():
        start.exception()


async def _skip_line(stdout: asyncio.StreamReader, consumed: int) -> None:
    """Drop the rest of a line too long to read (its start is ``consumed`` bytes)."""
    while True:
        await stdout.readexactly(consumed)
        try:
            await stdout.readuntil(b"\n")
            return
        except asyncio.LimitOverrunError as over:
            consumed = over.consumed


async def _exited(process: asyncio.subprocess.Process, seconds: float) -> bool:
    """Whether ``process`` ends within ``seconds``."""
    try:
        await asyncio.wait_for(process.wait(), seconds)
    except TimeoutError:
        return False
    return True
