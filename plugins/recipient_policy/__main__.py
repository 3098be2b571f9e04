"""``python -m plugins.recipient_policy --port N --refuse REGEX [--reply TEXT]``: the
recipient-policy plugin as an HTTP service on loopback (the plugin.toml's entrypoint URL
names where it listens)."""

from __future__ import annotations

import argparse
import logging
import re

from mairust.plugin_sdk import serve_http
from plugins.recipient_policy.plugin import DEFAULT_REPLY, plugin


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m plugins.recipient_policy")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument(
        "--refuse", required=True, help="refuse recipients this regular expression matches"
    )
    parser.add_argument("--reply", default=DEFAULT_REPLY, help="the 5xx reply they get")
    args = parser.parse_args(argv)
    try:
        re.compile(args.refuse)
    except re.error as error:
        parser.error(f"--refuse is no regular expression: {error}")
    if not re.match(r"5\d\d ", args.reply):
        parser.error("--reply must be a 5xx reply, e.g. '550 5.7.1 Not here'")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    serve_http(plugin, {"refuse": args.refuse, "reply": args.reply}, args.host, args.port)


if __name__ == "__main__":
    main()
