"""Postfix relaying to the sink fleet: every destination domain's mail is counted at that
domain's sink and nowhere else, and the instance's queue is empty once it is. Real Postfix
from the OS packages (private instance, as root, as CI runs) and real smtp-sinks."""

from __future__ import annotations

import smtplib
import time
from collections import Counter

from load.postfix_relay_target import NO_ROUTE, postfix_relay, transport_map, wait_relayed
from load.sink_fleet import sink_fleet
from load.targets import free_loopback_port


def test_the_transport_map_sends_each_domain_to_its_sink() -> None:
    with sink_fleet(2, port=None) as fleet:
        port = fleet.port
        assert transport_map(fleet) == (
            f"inline:{{ d0.test=smtp:[127.0.0.10]:{port}, d1.test=smtp:[127.0.0.11]:{port} }}"
        )
    assert NO_ROUTE.startswith("error:")


def test_every_relayed_message_is_counted_at_its_domains_sink() -> None:
    with sink_fleet(10, port=None, dump=True) as fleet:
        port = free_loopback_port()
        with postfix_relay(port, fleet) as postfix:
            sent: Counter[str] = Counter()
            with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
                for sink in fleet.sinks:  # a different number for each domain: 1, 2, ... 10
                    for n in range(sink.index + 1):
                        recipient = f"user{n}@{sink.domain}"
                        client.sendmail(
                            "sender@outbound.test", [recipient], "Subject: x\r\n\r\nhello\r\n"
                        )
                        sent[sink.domain] += 1
            assert wait_relayed(postfix, fleet, 55, timeout=60) is not None, postfix.log_tail()
            for sink in fleet.sinks:
                give_up = time.monotonic() + 10
                while len(sink.recipients()) < sent[sink.domain] and time.monotonic() < give_up:
                    time.sleep(0.01)  # the dump may trail the counter by a moment
                assert sorted(sink.recipients()) == sorted(
                    f"user{n}@{sink.domain}" for n in range(sink.index + 1)
                )
                assert sink.messages() == sent[sink.domain]
            assert postfix.queued() == 0
