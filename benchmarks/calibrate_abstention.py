"""Calibrate the abstention threshold on data, and record it with the data behind it.

    .venv/bin/python benchmarks/calibrate_abstention.py [--squad FILE] [--n 600]

Evidence scores (rag.answer.evidence: the best question/sentence match among the retrieved
passages) are computed for three sets:
  * off-topic: hand-written questions on unrelated subjects (tests/data/offtopic_questions.txt)
    plus SQuAD questions (other subjects entirely), all asked against the seed article;
  * answerable: SQuAD 2.0 answerable questions against the SQuAD paragraphs;
  * unanswerable: SQuAD 2.0 questions whose answer is absent (same topic) — reported only.
Each set is split in two halves: the threshold is chosen on the first and the rates are reported
on the second. Rule: the 99th percentile of off-topic evidence (so that about 99% of off-topic
questions abstain) — as low as that allows, since every point higher turns real questions away;
the script fails loudly if that would also turn away more than 10% of answerable questions. The result goes to docs/calibration.json.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from rag.answer import evidence
from rag.evaluation.runs import eval_index, load_squad, sample
from rag.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def scores(idx, questions: list[str]) -> list[float]:
    return [evidence(idx, q, idx.search(q, idx.settings.top_k)) for q in questions]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--squad", default=str(ROOT.parent / "shared/eval/squad2/dev-v2.0.json"))
    ap.add_argument("--n", type=int, default=600, help="questions per SQuAD set")
    args = ap.parse_args()
    settings = Settings.from_env()
    seed_text = {p.stem: p.read_text(encoding="utf-8") for p in (ROOT / "seeds").glob("*.txt")}
    seed_idx, _ = eval_index("seed", seed_text.items(), settings)
    paragraphs, questions = load_squad(Path(args.squad))
    squad_idx, _ = eval_index("squad2", paragraphs.items(), settings)
    hand = [ln.strip() for ln in (ROOT / "tests/data/offtopic_questions.txt").read_text()
            .splitlines() if ln.strip() and not ln.startswith("#")]
    ans = [q["question"] for q in sample([q for q in questions if not q["impossible"]], args.n)]
    imp = [q["question"] for q in sample([q for q in questions if q["impossible"]], args.n, 7)]
    other = [q["question"] for q in sample(questions, args.n, 99)]
    sets = {"offtopic_hand": scores(seed_idx, hand), "offtopic_squad": scores(seed_idx, other),
            "answerable": scores(squad_idx, ans), "unanswerable": scores(squad_idx, imp)}
    half = {k: (v[0::2], v[1::2]) for k, v in sets.items()}
    off_cal = half["offtopic_hand"][0] + half["offtopic_squad"][0]
    p99_off = float(np.percentile(off_cal, 99))
    p10_ans = float(np.percentile(half["answerable"][0], 10))
    threshold = round(p99_off, 3)
    if threshold >= p10_ans:
        raise SystemExit(f"no threshold separates the sets: p99 off-topic {p99_off:.3f} >= "
                         f"p10 answerable {p10_ans:.3f}")

    def rate(v: list[float]) -> float:
        return round(float(np.mean(np.array(v) < threshold)), 4)

    report = {
        "threshold": threshold,
        "rule": "p99 of off-topic evidence on the calibration half (must stay below p10 of "
                "answerable)",
        "calibration_half": {"p99_offtopic": round(p99_off, 4), "p10_answerable": round(p10_ans, 4)},
        "held_out_abstention_rate": {k: rate(v[1]) for k, v in half.items()},
        "all_abstention_rate": {k: rate(v) for k, v in sets.items()},
        "sizes": {k: len(v) for k, v in sets.items()},
        "percentiles": {k: {p: round(float(np.percentile(v, p)), 4) for p in (1, 5, 10, 50, 90, 95, 99)}
                        for k, v in sets.items()},
        "evidence": "max over retrieved sentences of 0.7*cosine + 0.3*word overlap (rag.answering.evidence)",
        "model": settings.embed_model, "top_k": settings.top_k,
    }
    out = ROOT / "docs" / "calibration.json"
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
