"""The verdict helpers: one HookResponse per verdict, with the annotations asked for."""

from __future__ import annotations

from mairust.plugin_sdk import (
    HeaderEdit,
    VerdictKind,
    accept,
    add_header,
    discard,
    proceed,
    quarantine,
    reject,
    tag,
    tempfail,
)


def test_each_helper_answers_its_verdict() -> None:
    assert proceed().verdict is VerdictKind.CONTINUE
    assert accept("ok").verdict is VerdictKind.ACCEPT
    assert discard("drop").verdict is VerdictKind.DISCARD
    refused = reject("spam", reply="554 5.7.1 Spam")
    assert (refused.verdict, refused.reason, refused.reply) == (
        VerdictKind.REJECT,
        "spam",
        "554 5.7.1 Spam",
    )
    later = tempfail("busy", reply="451 4.7.1 Later")
    assert (later.verdict, later.reply) == (VerdictKind.TEMPFAIL, "451 4.7.1 Later")
    held = quarantine("suspect", folder="Quarantine", tags=["suspect"])
    assert (held.verdict, held.folder, held.tags) == (
        VerdictKind.QUARANTINE,
        "Quarantine",
        ["suspect"],
    )


def test_tags_and_headers_ride_on_continue() -> None:
    tagged = tag("a", "b", reason="rules", headers=[add_header("X-Checked", "yes")])
    assert (tagged.verdict, tagged.tags, tagged.reason) == (
        VerdictKind.CONTINUE,
        ["a", "b"],
        "rules",
    )
    assert tagged.headers == [HeaderEdit(action="add", name="X-Checked", value="yes")]
    # What goes on the wire is the plain hook response JSON.
    assert '"verdict":"continue"' in tagged.model_dump_json()


def test_notes_ride_on_continue() -> None:
    assert proceed(notes={"summary": "the gist"}).notes == {"summary": "the gist"}
    answer = tag("lang:fr", notes={"language": "fr"})
    assert (answer.tags, answer.notes) == (["lang:fr"], {"language": "fr"})
    assert proceed().notes == {}
