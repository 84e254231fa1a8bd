"""Evaluation cases from users' feedback. Every answer rated down becomes a case: its
question, the documents it was limited to (``scope``), the conversation's last turns before it
(``history``), the answer given, the reason and note, and what is expected now: "abstain"
when the user said it should have abstained (should_abstain), else "answer". Run against the
current index, a case holds when the question now abstains, or now answers, as expected.

Cases are JSON lines (one object a line), written by ``docchat feedback export`` and run by
``docchat eval cases FILE``.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable

from rag.errors import DocchatError
from rag.history import recent

CASE_HISTORY = 5  # earlier turns of the conversation kept with a case (its follow-up context)
EXPECTED = ("abstain", "answer")


def cases_from_feedback(store, user: str | None = None) -> list[dict]:
    """The thumbs-down turns of every conversation in ``store`` (a
    rag.conversations.Conversations), of ``user`` only when given, oldest rating first."""
    cases = []
    for owner, conv in store.list_all(user):
        turns = store.turns(owner, conv.id)
        for i, t in enumerate(turns):
            if not t.feedback or t.feedback.rating != "down":
                continue
            a = t.answer
            cases.append({
                "question": t.question, "scope": list(a.scope),
                "history": [[p.question, p.answer.answer] for p in recent(turns[:i],
                                                                          CASE_HISTORY)],
                "answer": a.answer, "abstained": a.abstained,
                "reason": t.feedback.reason, "note": t.feedback.note,
                "expected": "abstain" if t.feedback.reason == "should_abstain" else "answer",
                "user": owner, "conversation": conv.id, "turn": i + 1,
                "rated": t.feedback.updated})
    return sorted(cases, key=lambda c: c["rated"])


def read_cases(path: str | Path) -> list[dict]:
    """The cases of a JSON-lines file (blank lines skipped); a line that is not a case is a
    DocchatError naming it."""
    cases = []
    try:
        lines = Path(path).read_text(encoding="utf-8-sig").splitlines()  # a BOM is no case
    except FileNotFoundError:
        raise DocchatError(f"no such file: {path}") from None
    except UnicodeDecodeError:
        raise DocchatError(f"{path} is not UTF-8 text (JSON lines expected)") from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            case = json.loads(line)
        except json.JSONDecodeError as e:
            raise DocchatError(f"{path}, line {number}: not JSON ({e.msg})") from None
        if not isinstance(case, dict) or not isinstance(case.get("question"), str) or \
                not case["question"].strip() or case.get("expected") not in EXPECTED:
            raise DocchatError(f"{path}, line {number}: not a case (it needs \"question\" and "
                               f"\"expected\": \"abstain\" or \"answer\")")
        if not _pairs_of_text(case.get("history", [])) or not _texts(case.get("scope", [])):
            raise DocchatError(f"{path}, line {number}: \"history\" must be a list of "
                               f"[question, answer] pairs and \"scope\" a list of paths")
        cases.append(case)
    return cases


def _texts(value) -> bool:
    return value is None or (isinstance(value, list) and all(isinstance(v, str) for v in value))


def _pairs_of_text(value) -> bool:
    return value is None or (isinstance(value, list) and all(
        isinstance(h, list) and len(h) == 2 and _texts(h) for h in value))


def run_cases(index, cases: Iterable[dict], settings=None) -> list[dict]:
    """Ask each case's question (with its history, within its scope) and say whether the
    expectation holds now. A question that fails (its scope left the index, the engine is
    down) is reported with its error and does not hold."""
    from rag.answer import ask

    results = []
    for case in cases:
        out = {"question": case["question"], "expected": case["expected"],
               "reason": case.get("reason"), "abstained": None, "abstention": None,
               "answer": None, "holds": False, "error": None}
        history = [tuple(h) for h in case.get("history") or () if len(h) == 2]
        try:
            answer = ask(index, case["question"], history,
                         settings.engine if settings else None,
                         settings.top_k if settings else None, settings,
                         documents=list(case.get("scope") or ()) or None)
        except DocchatError as e:
            out["error"] = str(e)
            results.append(out)
            continue
        out.update(abstained=answer.abstained, answer=answer.answer,
                   abstention=answer.abstention.value if answer.abstention else None,
                   holds=answer.abstained == (case["expected"] == "abstain"))
        results.append(out)
    return results


def summary(results: list[dict]) -> dict:
    by = {e: [r for r in results if r["expected"] == e] for e in EXPECTED}
    return {"cases": len(results), "hold": sum(r["holds"] for r in results),
            "errors": sum(r["error"] is not None for r in results),
            **{f"{e}_hold": sum(r["holds"] for r in rs) for e, rs in by.items()},
            **{f"{e}_cases": len(rs) for e, rs in by.items()}}


def format_results(results: list[dict]) -> str:
    """One line a case, then the summary line."""
    lines = []
    for i, r in enumerate(results, 1):
        q = " ".join(r["question"].split())
        q = q if len(q) <= 80 else q[:79] + "…"
        if r["error"]:
            lines.append(f"[{i}] error    expected {r['expected']}: {r['error']}  | {q}")
            continue
        now = f"abstains ({r['abstention']})" if r["abstained"] else "answers"
        lines.append(f"[{i}] {'holds' if r['holds'] else 'FAILS':8} expected {r['expected']}, "
                     f"it {now}  | {q}")
    s = summary(results)
    errors = f", {s['errors']} failed to run" if s["errors"] else ""
    lines.append(f"{s['hold']} of {s['cases']} cases hold (expected abstain: "
                 f"{s['abstain_hold']}/{s['abstain_cases']}, expected answer: "
                 f"{s['answer_hold']}/{s['answer_cases']}){errors}")
    return "\n".join(lines)
