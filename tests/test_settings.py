"""Settings: a bad value is one line naming the variable (exit 2), never a traceback."""
from __future__ import annotations

import pytest
from conftest import clean_env, docchat

from rag.errors import SettingsError
from rag.settings import Settings


@pytest.mark.parametrize("name, value, says", [
    ("DOCCHAT_TOP_K", "abc", "whole number"),
    ("DOCCHAT_TOP_K", "0", "between 1 and 100"),
    ("DOCCHAT_DENSE_WEIGHT", "1.5", "between 0.0 and 1.0"),
    ("DOCCHAT_UPLOAD_MAX_MB", "lots", "a number"),
    ("DOCCHAT_PORT", "70000", "between 0 and 65535"),
])
def test_bad_setting_is_one_line_naming_the_variable(tmp_path, name, value, says):
    r = docchat("status", "--index", tmp_path / "idx", env=clean_env(**{name: value}))
    assert r.returncode == 2, r
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert name in lines[0] and says in lines[0]
    assert "Traceback" not in r.stderr


def test_good_values_from_the_environment_are_typed(monkeypatch):
    monkeypatch.setenv("DOCCHAT_TOP_K", "7")
    monkeypatch.setenv("DOCCHAT_DENSE_WEIGHT", "0.25")
    s = Settings.from_env()
    assert (s.top_k, s.dense_weight) == (7, 0.25)


def test_out_of_range_value_in_code_is_refused_too():
    with pytest.raises(SettingsError, match="DOCCHAT_CHUNK_OVERLAP"):
        Settings(chunk_overlap=-1)
    with pytest.raises(SettingsError, match="DOCCHAT_TOP_K"):
        Settings().replace(top_k=0)
