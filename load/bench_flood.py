"""Flood fairness benchmark: p99 MAIL→250 of ordinary clients with and without a flood.

An in-process ``SmtpFrontEnd`` (embedded SQLite and file blobs in a temporary directory,
trusted networks narrowed to 127.0.0.1/32) runs in its own process. Four ordinary clients
(127.0.0.17-20, one thread each) send one message per connection for ``--seconds`` and time
MAIL→250; meanwhile, in the flood runs, ``--flood-processes`` processes of
``--flood-threads`` threads each open connections from 127.0.0.16 as fast as they can and
send messages on whichever are admitted. Runs, one Markdown row each:

- ``no flood``: the four clients alone;
- ``flood, limits on``: the default ``[admission]`` limits (per-IP connections and rate);
- ``flood, per-IP limits off``: the same flood with the per-IP limits lifted, for contrast.

Loopback only, bounded in time (``--seconds`` per run) and count (``--max-connections``
per flood thread). ``python -m load.bench_flood --help``. Tests assert behaviour; this
prints the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import multiprocessing
import os
import socket
import statistics
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any

from mairust.config import Settings
from mairust.passwords import hash_password
from mairust.smtp.frontend import SmtpFrontEnd
from mairust.spool import Spool
from mairust.storage.factory import migrate, open_stores

DOMAIN = "example.test"
RECIPIENT = f"alice@{DOMAIN}"
FLOODER = "127.0.0.16"
OTHERS = ("127.0.0.17", "127.0.0.18", "127.0.0.19", "127.0.0.20")
UNLIMITED = {
    "max_connections_per_ip": 1_000_000,
    "messages_per_minute_per_ip": 0,
}


def serve(data_dir: str, admission: dict[str, Any], ready: Any, stop: Event) -> None:
    """The server process: a front-end on a free port until ``stop``."""
    # One refusal line per flood connection would drown the table.
    logging.basicConfig(level=logging.ERROR)
    settings = Settings(
        data_dir=Path(data_dir),
        smtp={"hostname": "mx.bench.test", "port": 0, "submission_port": 0},
        auth={"trusted_networks": ["127.0.0.1/32"]},
        admission=admission,
    )
    migrate(settings.storage)
    stores = open_stores(settings.storage)
    tenant = stores.metadata.create_tenant("bench")
    stores.metadata.add_domain(DOMAIN, tenant.id)
    stores.metadata.add_mailbox(RECIPIENT, hash_password("bench password"))

    async def run() -> None:
        spool = Spool(stores.metadata, stores.blobs)
        await spool.start()
        frontend = SmtpFrontEnd(settings, stores.metadata, spool)
        bound = await frontend.start()
        ready.send(next(port for name, _, port in bound if name == "smtp"))
        await asyncio.to_thread(stop.wait)
        await frontend.stop(grace_seconds=1)
        await spool.stop()

    asyncio.run(run())
    stores.close()


class Line:
    def __init__(self, port: int, source: str) -> None:
        self.sock = socket.socket()
        self.sock.settimeout(30)
        self.sock.bind((source, 0))
        self.sock.connect(("127.0.0.1", port))
        self.file = self.sock.makefile("rb")

    def reply(self) -> str:
        while True:
            line = self.file.readline().decode()
            if not line:
                raise ConnectionError("closed")
            if len(line) < 4 or line[3] != "-":
                return line

    def send(self, text: str) -> str:
        self.sock.sendall(text.encode() + b"\r\n")
        return self.reply()

    def message(self, n: int) -> bool:
        """One transaction; False when the server refused it."""
        if not self.send("MAIL FROM:<sender@remote.test>").startswith("250"):
            return False
        self.send(f"RCPT TO:<{RECIPIENT}>")
        self.send("DATA")
        return self.send(f"Subject: bench {n}\r\n\r\nhello\r\n.").startswith("250")

    def close(self) -> None:
        self.file.close()
        self.sock.close()


def ordinary(port: int, source: str, until: float) -> tuple[list[float], int]:
    """Messages from ``source`` until ``until``: MAIL→250 seconds, and failures."""
    seen: list[float] = []
    failed = 0
    while time.monotonic() < until:
        try:
            line = Line(port, source)
            line.reply()
            line.send("EHLO ordinary.test")
            began = time.monotonic()
            ok = line.send("MAIL FROM:<sender@remote.test>").startswith("250")
            seen.append(time.monotonic() - began)
            if ok:
                line.send(f"RCPT TO:<{RECIPIENT}>")
                line.send("DATA")
                ok = line.send("Subject: fair\r\n\r\nhello\r\n.").startswith("250")
            line.send("QUIT")
            line.close()
        except OSError:
            ok = False
        failed += not ok
    return seen, failed


def flood_thread(port: int, until: float, max_connections: int, held: list[Line]) -> Counter[str]:
    tally: Counter[str] = Counter()
    for n in range(max_connections):
        if time.monotonic() >= until:
            break
        try:
            line = Line(port, FLOODER)
            if line.reply().startswith("421"):
                tally["refused"] += 1
                line.close()
                continue
            tally["admitted"] += 1
            held.append(line)
            line.send("EHLO flood.test")
            while time.monotonic() < until and line.message(n):
                tally["stored"] += 1
            tally["deferred"] += 1  # 450 4.7.1 (or the run's end)
        except OSError:
            tally["failed"] += 1
    return tally


def flood_process(
    port: int, seconds: float, threads: int, max_connections: int, results: Any
) -> None:
    until = time.monotonic() + seconds
    held: list[Line] = []
    total: Counter[str] = Counter()
    with ThreadPoolExecutor(threads) as pool:
        futures = [
            pool.submit(flood_thread, port, until, max_connections, held) for _ in range(threads)
        ]
        for future in futures:
            total.update(future.result())
    for line in held:
        line.close()
    results.put(dict(total))


def one_run(name: str, admission: dict[str, Any], args: argparse.Namespace, flood: bool) -> str:
    context = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory(prefix="mairust-flood-") as scratch:
        stop = context.Event()
        receive, send = context.Pipe(duplex=False)
        server = context.Process(target=serve, args=(scratch, admission, send, stop))
        server.start()
        port = int(receive.recv())
        flooders = []
        results = context.Queue()
        if flood:
            for _ in range(args.flood_processes):
                process = context.Process(
                    target=flood_process,
                    args=(
                        port,
                        args.seconds + 1,
                        args.flood_threads,
                        args.max_connections,
                        results,
                    ),
                )
                process.start()
                flooders.append(process)
            time.sleep(1)  # the flood is on before the ordinary clients start
        until = time.monotonic() + args.seconds
        lock = threading.Lock()
        seen: list[float] = []
        failed = 0
        with ThreadPoolExecutor(len(OTHERS)) as pool:
            for latencies, failures in pool.map(lambda ip: ordinary(port, ip, until), OTHERS):
                with lock:
                    seen.extend(latencies)
                    failed += failures
        flood_tally: Counter[str] = Counter()
        for process in flooders:
            flood_tally.update(results.get(timeout=args.seconds + 60))
            process.join(timeout=30)
        stop.set()
        server.join(timeout=30)
    flooded = "{admitted}/{refused}/{stored}".format_map(Counter(flood_tally))
    if len(seen) < 2:
        return f"| {name} | {len(seen)} | {failed} | - | - | {flooded} |"
    p50 = statistics.median(seen)
    p99 = statistics.quantiles(seen, n=100)[98]
    return f"| {name} | {len(seen)} | {failed} | {p50 * 1000:.1f} | {p99 * 1000:.1f} | {flooded} |"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each run")
    parser.add_argument("--flood-processes", type=int, default=2)
    parser.add_argument("--flood-threads", type=int, default=16)
    parser.add_argument("--max-connections", type=int, default=5000, help="per flood thread")
    args = parser.parse_args(argv)
    print(f"1-min load average before: {os.getloadavg()[0]:.2f}, cores: {os.cpu_count()}")
    print(
        "| run | messages (others) | failed | p50 MAIL→250 ms | p99 MAIL→250 ms "
        "| flood: admitted/refused conns, stored msgs |"
    )
    print("|---|---:|---:|---:|---:|---|")
    print(one_run("no flood", {}, args, flood=False), flush=True)
    print(one_run("flood, limits on", {}, args, flood=True), flush=True)
    print(one_run("flood, per-IP limits off", UNLIMITED, args, flood=True), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
