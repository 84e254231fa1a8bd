"""docchat eval | conversations | feedback: measure the answers, and read what the server's
users asked and how they rated it (a thumb down becomes an evaluation case)."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rag.cli.options import common, data_options, settings_from, settings_of, write
from rag.types import Fusion


def cmd_eval(args: argparse.Namespace) -> int:
    if args.limit is not None and args.limit < 1:
        print(f"docchat: error: --limit {args.limit}: must be 1 or more", file=sys.stderr)
        return 2
    if args.what == "cases":
        return eval_cases(args)
    from rag.evaluation import runs

    settings = settings_of(args)
    if args.what == "retrieval":
        result = runs.run_beir(Path(args.beir), settings, limit=args.limit,
                                     fusion=Fusion(args.fusion), split=args.split)
    else:
        from rag.engines import get_engine

        get_engine(settings.engine, settings)  # unknown: refused before the corpus is indexed
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
    settings = settings_of(args)
    results = run_cases(Index.open(settings.index_dir, settings), cases, settings)
    print(json.dumps({"cases": results, "summary": summary(results)}, indent=2,
                     ensure_ascii=False) if args.json else format_results(results))
    return 0


def _conversations(args: argparse.Namespace):
    """The server's conversation store (Settings.data_path), or None when it has none."""
    from rag.conversations import FILE, Conversations

    settings = settings_from(index_dir=args.index, data_dir=args.data)
    if not (settings.data_path / FILE).is_file():
        return None
    return Conversations(settings.data_path)


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
    write((export_json if args.format == "json" else export_markdown)(conv, turns), args.out)
    if args.out:
        print(f"wrote {args.out} ({len(turns)} turns)", file=sys.stderr)
    return 0


def cmd_feedback(args: argparse.Namespace) -> int:
    from rag.evaluation.cases import cases_from_feedback

    store = _conversations(args)
    cases = cases_from_feedback(store, args.user) if store else []
    write("".join(json.dumps(c, ensure_ascii=False) + "\n" for c in cases), args.out)
    if args.out:
        print(f"wrote {len(cases)} cases to {args.out}", file=sys.stderr)
    return 0


def add_parsers(sub) -> None:
    """eval, conversations (list, export) and feedback (export), in the order --help lists
    them."""
    sp = sub.add_parser("eval", help="measure retrieval (BEIR) or answers (SQuAD 2.0), or "
                        "run evaluation cases (docchat feedback export)")
    sp.add_argument("what", choices=["retrieval", "qa", "cases"])
    sp.add_argument("file", nargs="?", help="cases: the JSON-lines file of cases")
    sp.add_argument("--beir", default="../shared/eval/beir_scifact", help="BEIR dataset folder")
    sp.add_argument("--squad", default="../shared/eval/squad2/dev-v2.0.json", help="SQuAD file")
    sp.add_argument("--split", default="test", help="BEIR qrels split (test, train)")
    sp.add_argument("--fusion", default=Fusion.CONVEX.value, choices=[f.value for f in Fusion])
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
