"""docchat index | status | ask | summarise: build the index, say what it holds, ask it."""
from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import sys
import time

from rag.cli.options import common, settings_of

EXIT_SKIPPED = 3


def cmd_index(args: argparse.Namespace) -> int:
    from rag.index import Index

    settings = settings_of(args)
    idx = Index.open(settings.index_dir, settings, create=True)
    progress = not args.json and sys.stderr.isatty()
    t0 = time.perf_counter()
    prepared = None
    # (not for an index this process cannot write: the update refuses it at once)
    if not args.full and _writable(settings.index_dir) and _quietly(
            lambda: idx.exists and not idx.rebuild_reason()):
        # read and embed what is new before taking the writer, so that a running server's
        # deletes and uploads do not wait for this command's reading (a full rebuild takes
        # the writer first: a killed one is then resumed)
        roots = list(idx.status().roots)
        given = list(args.paths or [])
        paths = given if given and not args.add else roots + given
        prepared = idx.prepare(paths, progress=progress)
    summary = idx.update(args.paths or None, full=args.full, add=args.add, progress=progress,
                         prepared=prepared)
    summary = dataclasses.replace(summary, seconds=round(time.perf_counter() - t0, 3))
    if args.json:
        print(json.dumps(summary.to_dict(), indent=2))
    else:
        print(f"{len(summary.added)} added, {len(summary.updated)} updated, "
              f"{len(summary.removed)} removed, {len(summary.unchanged)} unchanged, "
              f"{len(summary.skipped)} skipped; {summary.chunks} chunks "
              f"({summary.embedded} embedded) in {summary.seconds:.2f} s")
        if summary.full_rebuild:
            print(f"full rebuild: {summary.reason}")
        for s in summary.skipped:
            print(f"skipped {s.path}: {s.reason}")
    return EXIT_SKIPPED if summary.skipped else 0


def _quietly(check):
    """``check()`` without the store's warning that it reads a database it cannot make a
    shared-memory file for (a full disk): the update after it says what is wrong in its one
    line, and 'docchat index' printed two."""
    books = logging.getLogger("rag.store.sqlbooks")
    level = books.level
    books.setLevel(logging.ERROR)
    try:
        return check()
    finally:
        books.setLevel(level)


def _writable(folder: str) -> bool:
    """Whether this process can write the index folder (its writer's lock file, when there is
    one: as root, os.access says yes to a read-only mount or an immutable file)."""
    lock = os.path.join(folder, ".lock")
    if not os.path.exists(lock):
        return os.access(folder, os.W_OK)
    try:
        with open(lock, "a"):
            return True
    except OSError:
        return False


def cmd_summarise(args: argparse.Namespace) -> int:
    from rag.index import Index
    from rag.answering.summary import MAX_SENTENCES, summarise

    if args.sentences is not None and not 1 <= args.sentences <= MAX_SENTENCES:
        print(f"docchat: error: --sentences {args.sentences}: must be 1 to {MAX_SENTENCES}",
              file=sys.stderr)
        return 2
    settings = settings_of(args)
    idx = Index.open(settings.index_dir, settings)
    progress = (lambda f, m: print(f"{m}…", file=sys.stderr)) if sys.stderr.isatty() else None
    summary = summarise(idx, args.documents, args.sentences, progress)
    if args.json:
        print(json.dumps(summary.to_dict(), indent=2, ensure_ascii=False))
        return 0
    from rag.render_text import render_answer

    print(render_answer(summary))
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from rag.index import Index

    settings = settings_of(args)
    status = Index(settings.index_dir, settings).status()
    if args.json:
        print(json.dumps(status.to_dict(), indent=2))
        return 0 if status.exists else 1
    from rag.store import describe

    if not status.exists:
        print(f"no index at {describe(settings.index_dir, settings)}: build one with "
              "'docchat index'")
        return 1
    print(f"index:   {describe(settings.index_dir, settings)}\nfiles:   {status.files}\n"
          f"chunks:  {status.chunks}\nmodel:   {status.model} ({status.dim} dimensions)\n"
          f"built:   {status.built_at}\nfolders: {', '.join(status.roots)}")
    for s in status.skipped:
        print(f"skipped: {s.path}: {s.reason}")
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    from rag.answer import ask
    from rag.index import Index

    settings = settings_of(args)
    idx = Index.open(settings.index_dir, settings)
    answer = ask(idx, args.question, engine=settings.engine, k=settings.top_k,
                 documents=args.doc)
    if args.json:
        print(json.dumps(answer.to_dict(), indent=2, ensure_ascii=False))
        return 0
    from rag.render_text import render_answer

    print(render_answer(answer))
    return 0


def add_parsers(sub) -> None:
    """index, status, ask and summarise (alias summarize), in the order --help lists them."""
    sp = sub.add_parser("index", help="build or update the index incrementally")
    sp.add_argument("paths", nargs="*", help="files or folders (default: those indexed before, "
                    "or seeds/)")
    common(sp)
    sp.add_argument("--full", action="store_true", help="re-embed everything")
    sp.add_argument("--add", action="store_true", help="add PATHS to the indexed folders "
                    "instead of replacing them")
    sp.set_defaults(func=cmd_index)

    sp = sub.add_parser("status", help="what the index holds")
    common(sp)
    sp.set_defaults(func=cmd_status)

    sp = sub.add_parser("ask", help="answer a question with cited sources")
    sp.add_argument("question")
    common(sp)
    sp.add_argument("--engine", help="extractive (default), openai or llamacpp")
    sp.add_argument("-k", type=int, help="passages to retrieve")
    sp.add_argument("--doc", action="append", metavar="PATH",
                    help="search only this document (a file's path, a folder's path for all "
                         "its documents, or a document id); repeat for several")
    sp.set_defaults(func=cmd_ask)

    sp = sub.add_parser("summarise", aliases=["summarize"],
                        help="a cited summary of a document (or of several, or a folder's)")
    sp.add_argument("documents", nargs="+", metavar="DOCUMENT",
                    help="an indexed file's path, a folder's path, or a document id")
    common(sp)
    sp.add_argument("--sentences", type=int, help="how many sentences (1-20; default 8, or "
                    "one per top-level section of a long document)")
    sp.set_defaults(func=cmd_summarise)
