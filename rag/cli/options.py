"""What the commands of rag/cli share: the options several of them take, and the settings
their options make."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rag.settings import Settings


def settings_of(args: argparse.Namespace) -> Settings:
    return Settings.from_env(index_dir=getattr(args, "index", None),
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
