"""What the commands share (rag/cli/options.py): their common options, and the settings those
options make: an option given on the command line wins over DOCCHAT_*, which wins over the
default; a bad store URL is refused as a setting."""
from __future__ import annotations

import argparse
import os

import pytest

from rag.cli.options import common, data_options, settings_from, settings_of, write
from rag.errors import SettingsError
from rag.settings import Settings


@pytest.fixture(autouse=True)
def no_docchat_env(monkeypatch):
    for name in [n for n in os.environ if n.startswith("DOCCHAT_")]:
        monkeypatch.delenv(name)


def ask_parser() -> argparse.ArgumentParser:
    """A parser shaped like 'docchat ask': the common options plus --engine and -k."""
    p = argparse.ArgumentParser()
    common(p)
    p.add_argument("--engine")
    p.add_argument("-k", type=int)
    return p


def test_options_given_win_over_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("DOCCHAT_INDEX_DIR", "/from/env")
    monkeypatch.setenv("DOCCHAT_ENGINE", "llamacpp")
    monkeypatch.setenv("DOCCHAT_TOP_K", "9")
    monkeypatch.setenv("DOCCHAT_STORE", "milvus:///env/x.db")
    args = ask_parser().parse_args(["--index", str(tmp_path), "--engine", "openai", "-k", "3",
                                    "--store", f"faiss://{tmp_path}/store"])
    s = settings_of(args)
    assert (s.index_dir, s.engine, s.top_k, s.store) == (
        str(tmp_path), "openai", 3, f"faiss://{tmp_path}/store")


def test_options_left_out_take_the_environment_then_the_defaults(monkeypatch):
    monkeypatch.setenv("DOCCHAT_TOP_K", "9")
    s = settings_of(ask_parser().parse_args([]))
    default = Settings()
    assert s.top_k == 9
    assert (s.index_dir, s.engine, s.store) == (default.index_dir, default.engine, default.store)


def test_a_command_without_engine_or_k_options_still_gets_its_settings():
    """'docchat export' and 'docchat serve' take neither -k nor --engine (nor --index)."""
    s = settings_of(argparse.Namespace(store="", json=False))
    assert s == Settings.from_env()


def test_a_bad_store_url_is_refused_as_a_setting_naming_the_forms():
    args = ask_parser().parse_args(["--store", "ftp://host/index"])
    with pytest.raises(SettingsError, match=r"^--store ftp://host/index: .*faiss:///path"):
        settings_of(args)


@pytest.mark.parametrize("given, env, said", [
    ({"port": 70000}, {}, "--port 70000: must be"),
    ({"top_k": 0}, {}, "-k 0: must be"),
    ({"store": "milvus://root:hunter2@db:19530"}, {}, "--store milvus://***@db:19530: put"),
    ({"port": None}, {"DOCCHAT_PORT": "70000"}, "DOCCHAT_PORT=70000: must be"),
    ({"port": 8000}, {"DOCCHAT_TOP_K": "0"}, "DOCCHAT_TOP_K=0: must be"),
])
def test_a_bad_value_is_named_as_the_user_gave_it_option_or_variable(monkeypatch, given, env,
                                                                    said):
    """'docchat serve --port 70000' said "DOCCHAT_PORT=70000", a variable the user never set;
    a value from the environment is still named by its variable; a password never shows."""
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    with pytest.raises(SettingsError) as e:
        settings_from(**given)
    assert str(e.value).startswith(said) and "hunter2" not in str(e.value)


def test_the_common_options_parse_and_default_to_unset():
    p = ask_parser()
    assert vars(p.parse_args([])) == {"index": None, "json": False, "store": None,
                                      "engine": None, "k": None}
    assert p.parse_args(["--json"]).json is True


def test_an_empty_user_is_the_user_without_a_login_not_every_user():
    p = argparse.ArgumentParser()
    data_options(p)
    assert p.parse_args([]).user is None  # every user's
    assert p.parse_args(["--user", ""]).user == ""  # the one without a login
    got = p.parse_args(["--index", "i", "--data", "d", "--user", "ada"])
    assert (got.index, got.data, got.user) == ("i", "d", "ada")


def test_write_goes_to_the_file_in_utf8_or_else_to_stdout(tmp_path, capsys):
    text = "Zürich — 18 November ✓\n"
    out = tmp_path / "export.md"
    write(text, str(out))
    assert out.read_bytes() == text.encode("utf-8")
    assert capsys.readouterr().out == ""
    write(text, None)
    assert capsys.readouterr().out == text
