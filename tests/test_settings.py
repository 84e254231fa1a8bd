"""Settings: a bad value is one line naming the variable (exit 2), never a traceback."""
from __future__ import annotations

import pytest
from conftest import clean_env, docchat

from rag.errors import SettingsError
from dataclasses import fields

from rag.settings import _CHECKS, Settings


@pytest.mark.parametrize("name, value, says", [
    ("DOCCHAT_TOP_K", "abc", "whole number"),
    ("DOCCHAT_TOP_K", "0", "between 1 and 100"),
    ("DOCCHAT_DENSE_WEIGHT", "1.5", "between 0 and 1"),
    ("DOCCHAT_UPLOAD_MAX_MB", "inf", "between 0.001 and"),
    ("DOCCHAT_UPLOAD_MAX_REQUEST_MB", "inf", "between 0.001 and"),
    ("DOCCHAT_READ_SECONDS", "nan", "between 0 and"),
    ("DOCCHAT_CHUNK_OVERLAP", "300", "smaller than DOCCHAT_CHUNK_TOKENS=200"),
    ("DOCCHAT_UPLOAD_MAX_MB", "lots", "a number"),
    ("DOCCHAT_PORT", "70000", "between 0 and 65535"),
    ("DOCCHAT_ENGINE", "gpt-17", "one of extractive, openai, llamacpp"),
])
def test_bad_setting_is_one_line_naming_the_variable(tmp_path, name, value, says):
    r = docchat("status", "--index", tmp_path / "idx", env=clean_env(**{name: value}))
    assert r.returncode == 2, r
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert name in lines[0] and says in lines[0]
    assert "Traceback" not in r.stderr


def test_a_password_in_the_store_url_is_never_printed_and_the_reason_is(tmp_path):
    r = docchat("status", "--index", tmp_path / "idx",
                env=clean_env(DOCCHAT_STORE="milvus://admin:hunter2@db.example:19530"))
    assert r.returncode == 2, r
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "hunter2" not in r.stderr and "admin" not in r.stderr, r.stderr
    assert ("docchat: bad setting: DOCCHAT_STORE='milvus://***@db.example:19530': put "
            "credentials in DOCCHAT_MILVUS_TOKEN") in r.stderr, r.stderr


@pytest.mark.parametrize("name, value, says", [
    ("store", "milvus://admin:hunter2@db.example:99999", "put credentials in DOCCHAT_MILVUS_TOKEN"),
    ("store", "admin:hunter2@db.example", "unknown store '***@db.example'"),
    ("store", "milvus://db.example:99999", "bad port in 'db.example:99999'"),
    ("store", "ftp://host/x", "unknown store 'ftp' (must be a store URL: faiss:///path"),
    ("embed_url", "http://admin:hunter2@gpu-1:notaport/v1", "='http://***@gpu-1:notaport/v1'"),
])
def test_a_bad_url_setting_says_why_and_never_prints_its_user_info(name, value, says):
    with pytest.raises(SettingsError) as e:
        Settings(**{name: value})
    assert says in str(e.value) and "\n" not in str(e.value)
    assert "hunter2" not in str(e.value) and "admin" not in str(e.value)


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


NUMERIC = [f for f in fields(Settings) if f.type in ("int", "float")]


def test_every_numeric_setting_has_a_range():
    """A setting added without a range would accept NaN, infinity and negative sizes."""
    assert NUMERIC and [f.name for f in NUMERIC if f.name not in _CHECKS] == []


@pytest.mark.parametrize("f", NUMERIC, ids=lambda f: f.name)
def test_every_numeric_setting_refuses_non_finite_and_out_of_range_values(monkeypatch, f):
    """Issue 20, item 12: each bad value is a SettingsError naming the variable (the CLI
    prints it as one line, exit 2: test above)."""
    var = "DOCCHAT_" + f.name.upper()
    bad = ["nan", "inf", "-inf", "-1e30", "1e30"] if f.type == "float" else \
        ["-1000000000000", "1000000000000"]
    for value in bad:
        monkeypatch.setenv(var, value)
        with pytest.raises(SettingsError, match=var):
            Settings.from_env()
    monkeypatch.setenv(var, str(getattr(Settings(), f.name)))  # the default itself is fine
    Settings.from_env()


def test_allowed_hosts_are_host_names():
    assert Settings(allowed_hosts=("docs.example.org", "10.0.0.5:7860")).allowed_hosts
    with pytest.raises(SettingsError, match="DOCCHAT_ALLOWED_HOSTS"):
        Settings(allowed_hosts=("evil.org/<script>",))


# ------------------------------------------------------------------ paths checked at start
def one_line_refusal(r, *words):
    assert r.returncode == 1, (r.returncode, r.stderr[-2000:])
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr[-2000:]
    assert all(w in lines[0] for w in words), lines[0]


@pytest.mark.parametrize("command", ["index", "serve"])
def test_an_index_folder_that_is_a_file_is_one_line(tmp_path, command):
    afile = tmp_path / "index"
    afile.write_text("not a folder")
    args = ("index", "--index", afile, "seeds") if command == "index" else \
        ("serve", "--index", afile, "--docs", tmp_path / "up", "--port", "0")
    one_line_refusal(docchat(*args, env=clean_env(), timeout=300), "index folder", "is a file")
    assert afile.read_text() == "not a folder"


@pytest.mark.parametrize("what, env, flag", [
    ("documents folder", {}, "--docs"),
    ("data folder", {"DOCCHAT_DATA_DIR": "FILE"}, None),
])
def test_serve_refuses_a_documents_or_data_folder_that_is_a_file(tmp_path, what, env, flag):
    afile = tmp_path / "afile"
    afile.write_text("x")
    env = {k: str(afile) if v == "FILE" else v for k, v in env.items()}
    docs = afile if flag else tmp_path / "up"
    r = docchat("serve", "--index", tmp_path / "index", "--docs", docs, "--port", "0",
                env=clean_env(**env), timeout=300)
    one_line_refusal(r, what, "is a file")
