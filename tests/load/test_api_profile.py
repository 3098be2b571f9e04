"""load/api_profile: py-spy's collapsed stacks summarized by library and by function."""

from __future__ import annotations

from load.api_profile import library_of, profile_table, summarize_collapsed

STACKS = (
    "_run (asyncio/events.py:80);list_messages (mairust/api/routes/messages.py:140);"
    "do_execute (sqlalchemy/engine/default.py:951) 6\n"
    """\
_run (asyncio/events.py:80);serialize (fastapi/routing.py:160);to_json (pydantic/main.py:300) 3
run (threading.py:1010);<module> (<string>:1) 1
not a stack line
"""
)


def test_frames_are_charged_to_their_library_by_file_path():
    assert library_of("do_execute (sqlalchemy/engine/default.py:951)") == "sqlalchemy"
    assert library_of("page (/srv/app/mairust/services/mailboxes.py:12)") == "mairust"
    assert library_of("handle (ray/serve/_private/replica.py:10)") == "ray serve"
    assert library_of("main_loop (ray/_private/worker.py:900)") == "ray core"
    assert library_of("<module> (<string>:1)") is None
    assert library_of("garbage") is None


def test_each_sample_goes_to_its_innermost_known_library():
    total, by_library, on_stack, by_function = summarize_collapsed(STACKS)
    assert total == 10
    # The innermost frame decides: the route called SQLAlchemy, so the time is SQLAlchemy's.
    assert by_library == {"sqlalchemy": 6, "pydantic": 3, "threading / concurrent": 1}
    # ... while the route's own library has it on its stack.
    assert on_stack["mairust"] == 6 and on_stack["asyncio"] == 9 and on_stack["fastapi"] == 3
    assert by_function["do_execute (sqlalchemy/engine/default.py)"] == 6


def test_profile_table_gives_shares():
    table = profile_table(STACKS)
    assert table.startswith("10 samples.")
    assert "| sqlalchemy | 60 % | 60 % |" in table
    assert "| asyncio | 0 % | 90 % |" in table  # never innermost, under 90 % of the samples
    assert "| pydantic | 30 % | 30 % |" in table
    assert "| `to_json (pydantic/main.py)` | 30.0 % |" in table
    assert profile_table("") == "(no samples)"
