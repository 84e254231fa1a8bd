"""docchat index | ask | summarise | status | eval | serve | mcp | export | import | conversations | feedback. Heavy modules are imported inside commands.

Exit codes: 0 success; 1 error (one line on stderr); 2 bad usage;
3 the index was updated but some files were skipped (listed with their reasons).
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sqlite3
import sys
from pathlib import Path

from rag.errors import DocchatError, SettingsError, storage_error
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
    except BrokenPipeError:  # the output was cut short by its reader (| head): not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as e:  # disk full, permission denied...: one line, the index as it was
        where = f": {e.filename}" if e.filename else ""
        print(f"docchat: error: {e.strerror or e}{where} (nothing was changed: the index "
              "keeps its last complete state)", file=sys.stderr)
        return 1
    except sqlite3.Error as e:
        full = storage_error(e)
        if full is None:
            raise
        print(f"docchat: error: {full}", file=sys.stderr)
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


def cmd_summarise(args: argparse.Namespace) -> int:
    from rag.index import Index
    from rag.answering.summary import summarise

    settings = _settings(args)
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
    if args.what == "cases":
        return eval_cases(args)
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


def eval_cases(args: argparse.Namespace) -> int:
    """docchat eval cases FILE: each case's question against the current index; exit 0."""
    if not args.file:
        print("docchat: error: eval cases needs the FILE of cases (docchat feedback export "
              "writes one)", file=sys.stderr)
        return 2
    from rag.evaluation.cases import format_results, read_cases, run_cases, summary
    from rag.index import Index

    cases = read_cases(args.file)
    settings = _settings(args)
    results = run_cases(Index.open(settings.index_dir, settings), cases, settings)
    print(json.dumps({"cases": results, "summary": summary(results)}, indent=2,
                     ensure_ascii=False) if args.json else format_results(results))
    return 0


def _conversations(args: argparse.Namespace):
    """The server's conversation store (Settings.data_path), or None when it has none."""
    from rag.conversations import FILE, Conversations

    settings = Settings.from_env(index_dir=args.index, data_dir=args.data)
    if not (settings.data_path / FILE).is_file():
        return None
    return Conversations(settings.data_path)


def _write(text: str, out: str | None) -> None:
    if out:
        Path(out).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)


def cmd_conversations(args: argparse.Namespace) -> int:
    from rag.conversations import export_json, export_markdown
    from rag.errors import NotFoundError

    store = _conversations(args)
    if args.action == "list":
        listed = store.list_all(args.user) if store else []
        if args.json:
            print(json.dumps([{"user": u, **c.__dict__} for u, c in listed], indent=2,
                             ensure_ascii=False))
        for user, c in [] if args.json else listed:
            print(f"{c.id}  {c.updated[:16].replace('T', ' ')}  {c.turns:3} turns  "
                  f"{user or '-'}  {c.title}")
        return 0
    owner = store.owner(args.id) if store else None
    if owner is None or (args.user is not None and owner != args.user):
        raise NotFoundError(f"no conversation {args.id!r}")
    conv, turns = store.get(owner, args.id), store.turns(owner, args.id)
    _write((export_json if args.format == "json" else export_markdown)(conv, turns), args.out)
    if args.out:
        print(f"wrote {args.out} ({len(turns)} turns)", file=sys.stderr)
    return 0


def cmd_feedback(args: argparse.Namespace) -> int:
    from rag.evaluation.cases import cases_from_feedback

    store = _conversations(args)
    cases = cases_from_feedback(store, args.user) if store else []
    _write("".join(json.dumps(c, ensure_ascii=False) + "\n" for c in cases), args.out)
    if args.out:
        print(f"wrote {len(cases)} cases to {args.out}", file=sys.stderr)
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

    sp = sub.add_parser("summarise", aliases=["summarize"],
                        help="a cited summary of a document (or of several, or a folder's)")
    sp.add_argument("documents", nargs="+", metavar="DOCUMENT",
                    help="an indexed file's path, a folder's path, or a document id")
    common(sp)
    sp.add_argument("--sentences", type=int, help="how many sentences (1-20; default 8, or "
                    "one per top-level section of a long document)")
    sp.set_defaults(func=cmd_summarise)

    sp = sub.add_parser("eval", help="measure retrieval (BEIR) or answers (SQuAD 2.0), or "
                        "run evaluation cases (docchat feedback export)")
    sp.add_argument("what", choices=["retrieval", "qa", "cases"])
    sp.add_argument("file", nargs="?", help="cases: the JSON-lines file of cases")
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

    def data_options(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--index", help="index directory: the server's data folder is 'data' "
                        "beside it (default: ./index or $DOCCHAT_INDEX_DIR)")
        sp.add_argument("--data", help="the server's data folder (default: $DOCCHAT_DATA_DIR, "
                        "else 'data' beside the index)")
        sp.add_argument("--user", help="only this user's (the login name with --auth; \"\" "
                        "without a login); default: every user's")

    sp = sub.add_parser("conversations", help="list or export the conversations stored by "
                        "'docchat serve'")
    conv_sub = sp.add_subparsers(dest="action", required=True)
    cp = conv_sub.add_parser("list", help="id, last used, turns, user, title; newest first")
    data_options(cp)
    cp.add_argument("--json", action="store_true", help="print JSON")
    cp.set_defaults(func=cmd_conversations)
    cp = conv_sub.add_parser("export", help="one conversation as Markdown (to read) or JSON "
                             "(everything)")
    cp.add_argument("id", help="the conversation's id (docchat conversations list)")
    cp.add_argument("--format", choices=["md", "json"], default="md")
    cp.add_argument("--out", help="write to this file (default: standard output)")
    data_options(cp)
    cp.set_defaults(func=cmd_conversations)

    sp = sub.add_parser("feedback", help="export the answers rated down as evaluation cases")
    fb_sub = sp.add_subparsers(dest="action", required=True)
    fp = fb_sub.add_parser("export", help="JSON lines: question, scope, answer, reason, "
                           "note, expected (abstain or answer); run them with 'docchat eval "
                           "cases FILE'")
    fp.add_argument("--out", help="write to this file (default: standard output)")
    data_options(fp)
    fp.set_defaults(func=cmd_feedback)

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
