"""The scale-out benchmark command: the load shared over the front-ends, its options (no
cluster is started here: the run itself is the benchmark's, on a quiet machine)."""

from __future__ import annotations

import pytest

from load.bench_scale import main, parse_args, split


def test_the_load_is_split_evenly_over_the_front_ends() -> None:
    assert split(3000, 20, 1) == ([3000], 20)
    assert split(3000, 20, 2) == ([1500, 1500], 10)
    assert split(501, 3, 2) == ([251, 250], 1)
    assert split(1, 1, 2) == ([1, 0], 1)


def test_defaults_are_the_issue_configurations() -> None:
    args = parse_args([])
    assert (args.nodes, args.workers, args.messages, args.sessions) == ("1,2", "1,2,4", 3000, 20)
    assert not args.production and not args.no_postfix and args.rounds == 1


def test_help_says_root_is_needed_for_postfix(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_status:
        main(["--help"])
    assert exit_status.value.code == 0
    assert "root" in capsys.readouterr().out
