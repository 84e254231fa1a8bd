"""docchat export | import: an index to a portable file and back, without re-embedding."""
from __future__ import annotations

import argparse

from rag.cli.options import settings_of, store_option


def cmd_export(args: argparse.Namespace) -> int:
    from rag.index import Index
    from rag.store.transfer import export

    settings = settings_of(args)
    done = export(Index.open(settings.index_dir, settings).snapshot(), args.file)
    print(f"exported {done.files} files, {done.chunks} chunks to {args.file}")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from rag.store import describe, open_store
    from rag.store.transfer import import_into

    settings = settings_of(args)
    done = import_into(open_store(settings.index_dir, settings), args.file, args.replace)
    print(f"imported {done.files} files, {done.chunks} chunks into "
          f"{describe(settings.index_dir, settings)} (nothing re-embedded)")
    return 0


def add_parsers(sub) -> None:
    """export and import, in the order --help lists them."""
    sp = sub.add_parser("export", help="write the index (chunks, vectors, bookkeeping) to a "
                        "portable file")
    sp.add_argument("file", help="the file to write (a tar)")
    sp.add_argument("--index", help="index directory")
    store_option(sp)
    sp.set_defaults(func=cmd_export)

    sp = sub.add_parser("import", help="load an exported index into a store, without "
                        "re-embedding")
    sp.add_argument("file", help="a file written by 'docchat export'")
    sp.add_argument("--index", help="index directory (default: ./index)")
    sp.add_argument("--replace", action="store_true", help="overwrite an index already there")
    store_option(sp)
    sp.set_defaults(func=cmd_import)
