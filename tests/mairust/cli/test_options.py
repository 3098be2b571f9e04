from __future__ import annotations

import pytest
import typer

from mairust.cli.options import opened_stores, reported_errors, settings_from
from mairust.errors import Conflict


def test_settings_from_flags(tmp_path):
    settings = settings_from(tmp_path, None, smtp={"port": 2626, "submission_port": None})
    assert settings.data_dir == tmp_path
    assert settings.smtp.port == 2626
    assert settings.smtp.submission_port == 2587


def test_opened_stores_migrates_a_new_data_dir(tmp_path):
    with opened_stores(settings_from(tmp_path / "new", None)) as stores:
        assert stores.metadata.list_tenants() == []
    assert (tmp_path / "new" / "metadata.db").is_file()


def test_domain_errors_become_exit_code_1(capsys):
    with pytest.raises(typer.Exit) as exit_info, reported_errors():
        raise Conflict("domain example.test exists already")
    assert exit_info.value.exit_code == 1
    assert "error: domain example.test exists already" in capsys.readouterr().err


def test_other_errors_pass_through():
    with pytest.raises(KeyError), reported_errors():
        raise KeyError("a bug stays a bug")
