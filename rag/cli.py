"""docchat index | ask | status | eval | serve | mcp | export | import. Heavy modules are imported inside commands.

Exit codes: 0 success; 1 error (one line on stderr); 2 bad usage;
3 the index was updated but some files were skipped (listed with their reasons).
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from rag.errors import DocchatError, SettingsError
from rag.settings import Settings

EXIT_SKIPPED = 3


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    if not args.verbose:
        for noisy in ("faiss", "bm25s", "sentence_transformers", "httpx", "transformers"):
            logging.getLogger(noisy).setLevel(logging.ERROR)
    try:
        return args.func(args)
    except SettingsError as e:
        print(f"docchat: bad setting: {e}", file=sys.stderr)
        return 2
    except DocchatError as e:
        print(f"docchat: error: {e}", file=sys.stderr)
        return 1
    except OSError as e:  # disk full, permission denied...: one line, the index as it was
        where = f": {e.filename}" if e.filename else ""
        print(f"docchat: error: {e.strerror or e}{where} (nothing was changed: the index "
              "keeps its last complete state)", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("docchat: interrupted", file=sys.stderr)
        return 130


def _settings(args: argparse.Namespace) -> Settings:
    return Settings.from_env(index_dir=getattr(args, "index", None),
                             store=getattr(args, "store", None),
                             engine=getattr(args, "engine", None),
                             top_k=getattr(args, "k", None))


def cmd_index(args: argparse.Namespace) -> int:
    from rag.index import Index

    settings = _settings(args)
    idx = Index.open(settings.index_dir, settings, create=True)
    progress = not args.json and sys.stderr.isatty()
    summary = idx.update(args.paths or None, full=args.full, add=args.add, progress=progress)
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


def cmd_status(args: argparse.Namespace) -> int:
    from rag.index import Index

    settings = _settings(args)
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

    settings = _settings(args)
    idx = Index.open(settings.index_dir, settings)
    answer = ask(idx, args.question, engine=settings.engine, k=settings.top_k,
                 documents=args.doc)
    if args.json:
        print(json.dumps(answer.to_dict(), indent=2, ensure_ascii=False))
        return 0
    from rag.render_text import render_answer

    print(render_answer(answer))
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from rag.evaluation import runs

    settings = _settings(args)
    if args.what == "retrieval":
        result = runs.run_beir(Path(args.beir), settings, limit=args.limit,
                                     fusion=args.fusion, split=args.split)
    else:
        run = runs.run_squad_absent if args.absent else runs.run_squad
        result = run(Path(args.squad), settings, limit=args.limit, engine=settings.engine,
                     articles=args.articles)
    print(json.dumps(result, indent=2) if args.json else runs.format_result(result))
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from ui.server import serve  # the UI is imported only when asked for

    settings = Settings.from_env(index_dir=args.index, host=args.host, port=args.port,
                                 upload_dir=args.docs, store=args.store)
    serve(settings, auth=args.auth or settings.auth or None)
    return 0


def cmd_mcp(args: argparse.Namespace) -> int:
    from rag.index import Index

    settings = _settings(args)
    index = Index.open(settings.index_dir, settings)  # read only: no index is one line, exit 1
    from ui.mcp_tools import build_server  # the MCP SDK is imported only when asked for

    build_server(lambda: index, settings).run("stdio")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from rag.index import Index
    from rag.store.transfer import export

    settings = _settings(args)
    done = export(Index.open(settings.index_dir, settings).snapshot(), args.file)
    print(f"exported {done.files} files, {done.chunks} chunks to {args.file}")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from rag.store import describe, open_store
    from rag.store.transfer import import_into

    settings = _settings(args)
    done = import_into(open_store(settings.index_dir, settings), args.file, args.replace)
    print(f"imported {done.files} files, {done.chunks} chunks into "
          f"{describe(settings.index_dir, settings)} (nothing re-embedded)")
    return 0


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="docchat", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-v", "--verbose", action="store_true", help="log what happens")
    sub = p.add_subparsers(dest="command", required=True)

    def common(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--index", help="index directory (default: ./index or $DOCCHAT_INDEX_DIR)")
        sp.add_argument("--json", action="store_true", help="print JSON")
        store_option(sp)

    def store_option(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--store", help="where the index lives: faiss:///folder (default: the "
                        "--index folder), milvus:///path/x.db, milvus://host:19530 "
                        "(or $DOCCHAT_STORE)")

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

    sp = sub.add_parser("eval", help="measure retrieval (BEIR) or answers (SQuAD 2.0)")
    sp.add_argument("what", choices=["retrieval", "qa"])
    sp.add_argument("--beir", default="../shared/eval/beir_scifact", help="BEIR dataset folder")
    sp.add_argument("--squad", default="../shared/eval/squad2/dev-v2.0.json", help="SQuAD file")
    sp.add_argument("--split", default="test", help="BEIR qrels split (test, train)")
    sp.add_argument("--fusion", default="convex", choices=["convex", "rrf"])
    sp.add_argument("--limit", type=int, help="only the first N queries/questions")
    sp.add_argument("--articles", default="all", choices=["all", "even", "odd"],
                    help="SQuAD articles asked (odd: those the answerability model never saw)")
    sp.add_argument("--absent", action="store_true",
                    help="qa: answerable questions asked after their answer was removed from "
                    "the paragraphs (on topic, answer absent: they should abstain)")
    common(sp)
    sp.add_argument("--engine", help="answer engine for qa")
    sp.add_argument("-k", type=int, help="passages to retrieve")
    sp.set_defaults(func=cmd_eval)

    sp = sub.add_parser("serve", help="the chat page, the HTTP API and MCP (at /mcp)")
    sp.add_argument("--index", help="index directory")
    sp.add_argument("--docs", help="folder uploads are saved in (and indexed)")
    sp.add_argument("--host", help="bind address (default 127.0.0.1)")
    sp.add_argument("--port", type=int, help="port (default 7860)")
    sp.add_argument("--auth", help="USER:PASS to require a login (or $DOCCHAT_AUTH)")
    store_option(sp)
    sp.set_defaults(func=cmd_serve)

    sp = sub.add_parser("mcp", help="serve the index to MCP clients (agents, editors) over "
                        "stdio: search, ask, list_documents, fetch (read only)")
    sp.add_argument("--index", help="index directory (default: ./index or $DOCCHAT_INDEX_DIR)")
    store_option(sp)
    sp.set_defaults(func=cmd_mcp)

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
    return p


if __name__ == "__main__":
    sys.exit(main())
