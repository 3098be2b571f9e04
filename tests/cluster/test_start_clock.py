"""The start-up clock, the deadline arithmetic and the /healthz wait against a real server
on loopback."""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Iterator

import pytest

from cluster.start_clock import StartClock, remaining, wait_for_healthz


def test_the_clock_keeps_steps_in_order_and_says_them_in_one_line() -> None:
    clock = StartClock()
    clock.reached("ray")
    time.sleep(0.05)
    clock.reached("smtp")
    (first, at_first), (second, at_second) = clock.steps
    assert (first, second) == ("ray", "smtp") and at_second - at_first >= 0.04
    assert clock.summary() == f"ray {at_first:.1f}, smtp {at_second:.1f}"


def test_remaining_counts_down_and_names_what_ran_out() -> None:
    assert 9 < remaining(time.monotonic() + 10, "x") <= 10
    with pytest.raises(TimeoutError, match="the dispatcher did not answer in time"):
        remaining(time.monotonic() - 1, "the dispatcher")


class _Health(http.server.BaseHTTPRequestHandler):
    healthy_after = 0.0

    def do_GET(self) -> None:
        ok = self.path == "/healthz" and time.monotonic() >= _Health.healthy_after
        self.send_response(200 if ok else 503)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def health_server() -> Iterator[tuple[str, int]]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield "127.0.0.1", server.server_address[1]
    server.shutdown()
    server.server_close()


def test_healthz_is_polled_until_it_answers_200(health_server: tuple[str, int]) -> None:
    _Health.healthy_after = time.monotonic() + 0.3
    started = time.monotonic()
    wait_for_healthz(("0.0.0.0", health_server[1]), time.monotonic() + 10)
    assert 0.25 <= time.monotonic() - started < 5


def test_healthz_that_never_answers_200_times_out_with_the_last_answer(
    health_server: tuple[str, int],
) -> None:
    _Health.healthy_after = time.monotonic() + 3600
    with pytest.raises(TimeoutError, match="HTTP 503"):
        wait_for_healthz(health_server, time.monotonic() + 0.3)
