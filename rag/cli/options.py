"""What the commands of rag/cli share: the options several of them take, and the settings
their options make."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rag.errors import SettingsError
from rag.settings import Settings

#: The option that sets a Settings field, where it is not --field-name
FLAGS = {"index_dir": "--index", "data_dir": "--data", "upload_dir": "--docs", "top_k": "-k"}


def settings_from(**given) -> Settings:
    """Settings from the environment and the options ``given`` (field: value; None = not
    given). A bad value given as an option is named by its option ("--port 70000: must
    be ..."), not by the variable the user did not set."""
    try:
        return Settings.from_env(**given)
    except SettingsError as e:
        text = str(e)
        for name, value in given.items():
            prefix = f"DOCCHAT_{name.upper()}="
            if value is not None and text.startswith(prefix) and ": " in text:
                shown, why = text[len(prefix):].split(": ", 1)  # shown: redacted already
                flag = FLAGS.get(name, "--" + name.replace("_", "-"))
                raise SettingsError(f"{flag} {shown.strip(chr(39))}: {why}") from None
        raise


def settings_of(args: argparse.Namespace) -> Settings:
    return settings_from(index_dir=getattr(args, "index", None),
                         store=getattr(args, "store", None),
                         engine=getattr(args, "engine", None),
                         top_k=getattr(args, "k", None))


def common(sp: argparse.ArgumentParser) -> None:
    """--index, --json and --store: the options of the commands that read an index."""
    sp.add_argument("--index", help="index directory (default: ./index or $DOCCHAT_INDEX_DIR)")
    sp.add_argument("--json", action="store_true", help="print JSON")
    store_option(sp)


def store_option(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("--store", help="where the index lives: faiss:///folder (default: the "
                    "--index folder), milvus:///path/x.db, milvus://host:19530 "
                    "(or $DOCCHAT_STORE)")


def data_options(sp: argparse.ArgumentParser) -> None:
    """--index, --data and --user: the options of the commands that read the server's data."""
    sp.add_argument("--index", help="index directory: the server's data folder is 'data' "
                    "beside it (default: ./index or $DOCCHAT_INDEX_DIR)")
    sp.add_argument("--data", help="the server's data folder (default: $DOCCHAT_DATA_DIR, "
                    "else 'data' beside the index)")
    sp.add_argument("--user", help="only this user's (the login name with --auth; \"\" "
                    "without a login); default: every user's")


def write(text: str, out: str | None) -> None:
    """``text`` to the file ``out``, or to standard output when there is none."""
    if out:
        Path(out).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
