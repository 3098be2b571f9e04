"""The hook points are declared once: every point has a spec, post_receive alone is
asynchronous, and the envelope-time points have nothing but the envelope to give."""

from __future__ import annotations

from mairust.hooks.points import POINTS, DataScope, HookPoint


def test_every_point_is_declared_once_with_its_scopes() -> None:
    assert set(POINTS) == set(HookPoint)
    assert [p for p, spec in POINTS.items() if not spec.synchronous] == [HookPoint.POST_RECEIVE]
    for point in (HookPoint.CONNECT, HookPoint.MAIL_FROM, HookPoint.RCPT_TO):
        assert POINTS[point].scopes == {DataScope.ENVELOPE}
    for point in (HookPoint.PRE_RECEIVE, HookPoint.PRE_DELIVERY, HookPoint.PRE_SEND):
        assert POINTS[point].scopes == set(DataScope)
