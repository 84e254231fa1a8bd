"""rag/answering/span_reader.py without the trained model: its tokeniser (PairWindows: the
question cut at 64 tokens, a long passage in overlapping windows, offsets into the passage),
how ``read`` turns the heads' scores into one Reading per passage (a verbatim span of the
passage, never of the question, at most MAX_SPAN tokens, the best window of a long passage,
the calibrated probability), which backend a reader runs on, and the one line for a model
file that cannot be read. The heads are a fake that scores chosen tokens; the model's own
readings are in test_reader.py."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from rag.answering import reader_onnx, span_reader
from rag.answering.span_reader import (MAX_QUESTION_TOKENS, MAX_SPAN, META, STRIDE,
                                       PairWindows, SpanReader, unreadable)
from rag.embedding.model_files import model_dir
from rag.errors import DocchatError

BASE = model_dir("all-MiniLM-L6-v2")
TOKENIZER = BASE / "tokenizer.json"
PASSAGE = ("The Moscow concert hall attack killed 145 people and injured more than 500. "
           "Gunmen opened fire on the audience before setting the building on fire. "
           "The Islamic State claimed responsibility for the attack within hours.")


@pytest.fixture(scope="module")
def windows() -> PairWindows:
    return PairWindows(TOKENIZER, 256)


def token_id(windows: PairWindows, word: str) -> int:
    ids = windows._questions.encode(word, add_special_tokens=False).ids
    assert len(ids) == 1, (word, ids)
    return ids[0]


class ScoredTokens:
    """Heads that score the token ``start`` as the span's start and ``end`` as its end
    (``score`` each, wherever they are: in the question too), ``null`` at [CLS] for both,
    and ``no_answer`` as every row's no-answer logit. Records the inputs it was given."""

    def __init__(self, start: int, end: int, score: float = 5.0, null: float = 1.0,
                 no_answer: float = 0.5) -> None:
        self.start, self.end, self.score, self.null = start, end, score, null
        self.no_answer = no_answer
        self.calls: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []

    def __call__(self, ids, mask, types):
        self.calls.append((ids, mask, types))
        se = np.zeros((*ids.shape, 2), dtype=np.float32)
        se[..., 0] = np.where(ids == self.start, self.score, 0.0)
        se[..., 1] = np.where(ids == self.end, self.score, 0.0)
        se[:, 0, :] = self.null / 2
        return se, np.full(ids.shape[0], self.no_answer, dtype=np.float32)


def record(tmp_path: Path, **changes) -> tuple[Path, Path]:
    """A copy of the shipped reader's record (with ``changes``; a value None drops the key)
    and a weights file beside it."""
    info = json.loads(META.read_text(encoding="utf-8"))
    for k, v in changes.items():
        if v is None:
            info.pop(k, None)
        else:
            info[k] = v
    meta, weights = tmp_path / "reader.json", tmp_path / "reader.safetensors"
    meta.write_text(json.dumps(info), encoding="utf-8")
    weights.write_bytes(b"not read by the fake heads")
    return weights, meta


@pytest.fixture
def fake_torch(monkeypatch):
    """SpanReader on 'torch' builds its heads with this instead of loading the model; the
    heads it made are in the returned list."""
    made: list[ScoredTokens] = []

    class FakeTorchHeads(ScoredTokens):
        def __init__(self, weights, info, base) -> None:
            super().__init__(start=-1, end=-1)
            made.append(self)

    monkeypatch.setattr(span_reader, "TorchHeads", FakeTorchHeads)
    return made


def reader_with(tmp_path, heads: ScoredTokens, weights=(1.0, 0.0, 0.0), **kw) -> SpanReader:
    w, m = record(tmp_path, calibration={"weights": list(weights)})
    reader = SpanReader(w, m, backend="torch", **kw)
    reader.heads = heads
    return reader


# -- the tokeniser -----------------------------------------------------------------------

def test_a_short_question_is_kept_whole_and_a_long_one_cut_after_its_64th_token(windows):
    short = "Who claimed responsibility for the Crocus City Hall attack?"
    assert windows.question(short) == short
    long = "Which architect rebuilt the Crocus City Hall's façade? " * 12
    cut = windows.question(long)
    assert long.startswith(cut) and len(cut) < len(long)
    assert len(windows._questions.encode(cut, add_special_tokens=False).ids) == \
        MAX_QUESTION_TOKENS
    assert windows.question("") == ""


def test_one_row_per_short_passage_with_the_passage_tokens_marked_and_padding_off(windows):
    passages = ["Köln liegt am Rhein.", "北京是首都。", "A much longer third passage with "
                "several more words than the others have."]
    win = windows("Where is Köln?", passages)
    assert win.owner == [0, 1, 2]
    assert win.ids.shape == win.mask.shape == win.types.shape == win.context.shape
    for r, p in enumerate(passages):
        k = len(win.offsets[r])
        assert win.mask[r, :k].all() and not win.mask[r, k:].any()
        assert (win.ids[r, k:] == windows.pad_id).all() and not win.context[r, k:].any()
        ctx = [win.offsets[r][j] for j in range(k) if win.context[r, j]]
        assert ctx and (win.types[r, :k][win.context[r, :k]] == 1).all()
        # the marked tokens are the passage's, their offsets into the passage (unicode too)
        assert ctx[0][0] == 0 and ctx[-1][1] == len(p)
        assert all(0 <= a < b <= len(p) for a, b in ctx)
        assert not win.context[r, 0]  # [CLS] and the question are never the passage


def test_a_long_passage_is_read_in_overlapping_windows_to_its_end(windows):
    long = " ".join(f"Paragraph {i} describes the hall's seats, naïvely." for i in range(70))
    win = windows("Which seats?", ["Short.", long, "Also short."])
    rows = [r for r, o in enumerate(win.owner) if o == 1]
    assert win.owner == [0] + [1] * len(rows) + [2] and len(rows) > 2
    assert win.ids.shape[1] <= 256
    spans = [[win.offsets[r][j] for j in range(len(win.offsets[r])) if win.context[r, j]]
             for r in rows]
    assert spans[0][0][0] == 0 and spans[-1][-1][1] == len(long)  # start to end
    for before, after in zip(spans, spans[1:]):
        shared = set(before) & set(after)
        assert len(shared) == STRIDE  # consecutive windows share STRIDE tokens
        assert after[0][0] < before[-1][1] < after[-1][1]


def test_a_short_model_input_takes_a_longest_question_with_a_long_passage(windows):
    """The answer checker reads 160 tokens: a 2,000-character question cut at 64 tokens
    leaves fewer than STRIDE for the passage, which the tokenizer refused with a panic."""
    short_input = PairWindows(TOKENIZER, 160)
    question = ("How many people died in the attack? " * 100)[:2000]
    win = short_input(question, ["The attack killed 145 people, " * 60, "Short."])
    assert win.ids.shape[1] <= 160 and win.owner[0] == 0 and win.owner[-1] == 1
    assert win.owner.count(0) > 1


# -- reading: scores to Readings ---------------------------------------------------------

def test_no_passages_are_no_readings_and_no_model_pass(tmp_path, fake_torch, windows):
    heads = ScoredTokens(token_id(windows, "145"), token_id(windows, "people"))
    reader = reader_with(tmp_path, heads)
    assert reader.read("How many died?", []) == []
    assert heads.calls == []


def test_the_span_is_the_passages_text_between_the_scored_tokens(tmp_path, fake_torch, windows):
    heads = ScoredTokens(token_id(windows, "145"), token_id(windows, "people"))
    reader = reader_with(tmp_path, heads)
    other = "Gunmen opened fire on the audience."
    r = reader.read("Did 145 people die?", [PASSAGE, other])
    assert len(r) == 2 and len(heads.calls) == 1  # all passages in one batched pass
    assert r[0].span == "145 people" == PASSAGE[r[0].start:r[0].end]
    # the question's "145 people" scores too, but a span is only ever the passage's: in
    # the other passage nothing scores (best span 0, minus the no-answer score 1)
    assert r[1].margin == pytest.approx(-1.0) and r[1].span == other[r[1].start:r[1].end]
    assert r[0].probability > r[1].probability


def test_a_span_in_a_unicode_passage_maps_back_to_its_characters(tmp_path, fake_torch,
                                                                   windows):
    passage = "Der Kölner Dom 🙂 wurde 1880 vollendet — nach 632 Jahren."
    heads = ScoredTokens(token_id(windows, "1880"), token_id(windows, "1880"))
    r = reader_with(tmp_path, heads).read("Wann wurde der Dom vollendet?", [passage])[0]
    assert r.span == "1880" == passage[r.start:r.end]


def test_a_span_never_ends_before_it_starts_nor_runs_past_max_span_tokens(tmp_path,
                                                                         fake_torch, windows):
    end_first = "Beta came before alpha in this text."
    heads = ScoredTokens(token_id(windows, "alpha"), token_id(windows, "beta"))
    reader = reader_with(tmp_path, heads)
    r = reader.read("Which came first?", [end_first])[0]
    assert r.start < r.end and r.span == end_first[r.start:r.end]
    assert not (r.span.lower().startswith("alpha") and r.span.lower().endswith("beta"))
    far = "alpha " + "word " * (MAX_SPAN + 10) + "beta."
    r = reader.read("Which came first?", [far])[0]
    assert r.span != far[:len(far) - 1] and len(r.span.split()) <= MAX_SPAN


def test_margin_and_probability_follow_the_recorded_calibration(tmp_path, fake_torch,
                                                                  windows):
    heads = ScoredTokens(token_id(windows, "145"), token_id(windows, "people"), score=5.0,
                         null=1.0, no_answer=0.5)
    w0, w1, w2 = 0.8, 0.3, -2.0
    r = reader_with(tmp_path, heads, weights=(w0, w1, w2)).read("How many?", [PASSAGE])[0]
    assert r.margin == pytest.approx(10.0 - 1.0)  # the best span's start + end minus null
    assert r.no_answer == pytest.approx(0.5)
    want = 1 / (1 + math.exp(-(w0 * 9.0 + w1 * 0.5 + w2)))
    assert r.probability == pytest.approx(want, abs=1e-4)


def test_an_older_record_with_platt_weights_only_is_still_calibrated(tmp_path, fake_torch):
    w, m = record(tmp_path, calibration=None, platt=[2.0, -1.0])
    reader = SpanReader(w, m, backend="torch")
    assert reader.weights == (2.0, 0.0, -1.0)  # w0 * margin + w2, the no-answer head unused
    assert reader.probability(0.5, 123.0) == pytest.approx(0.5)


def test_a_long_passage_counts_its_best_window(tmp_path, fake_torch, windows):
    filler = " ".join(f"Paragraph {i} describes the hall's seats." for i in range(80))
    long = filler + " The hall was rebuilt by Petrov in 2027."
    heads = ScoredTokens(token_id(windows, "rebuilt"), token_id(windows, "rebuilt"))
    reader = reader_with(tmp_path, heads)
    r = reader.read("Who did it?", [long, "Short."])
    assert len(heads.calls[0][0]) > 3  # several windows in the one pass
    assert r[0].span == "rebuilt" and long[r[0].start:r[0].end] == "rebuilt"
    assert r[0].start > len(filler)


def test_an_empty_passage_is_read_as_holding_no_answer(tmp_path, fake_torch, windows):
    heads = ScoredTokens(token_id(windows, "145"), token_id(windows, "people"))
    r = reader_with(tmp_path, heads).read("How many?", ["", PASSAGE])
    assert r[0].span == "" and r[0].probability == 0.0
    assert r[1].span == "145 people"


# -- which backend, and files that cannot be read ----------------------------------------

def test_auto_runs_on_torch_when_the_onnx_export_fails_and_onnx_by_name_says_why(
        tmp_path, fake_torch, monkeypatch, caplog):
    def broken(*_a, **_k):
        raise OSError("read-only cache folder")

    monkeypatch.setattr(reader_onnx, "ensure", broken)
    w, m = record(tmp_path)
    auto = SpanReader(w, m, backend="auto")
    assert auto.backend == "torch" and len(fake_torch) == 1
    assert "running it on torch" in caplog.text and "read-only cache folder" in caplog.text
    with pytest.raises(OSError, match="read-only cache folder"):
        SpanReader(w, m, backend="onnx")


def test_the_int8_backend_runs_the_reader_in_fp32_on_onnx(tmp_path, fake_torch, monkeypatch):
    seen = []
    monkeypatch.setattr(reader_onnx, "ensure",
                        lambda weights, meta, onnx_dir: seen.append(onnx_dir) or tmp_path)
    monkeypatch.setattr(reader_onnx, "OnnxHeads", lambda path, threads: ("onnx", threads))
    w, m = record(tmp_path)
    reader = SpanReader(w, m, backend="onnx-int8", threads=3, onnx_dir="/cache")
    assert reader.backend == "onnx" and reader.heads == ("onnx", 3) and not fake_torch
    assert seen == ["/cache"]


def test_unreadable_names_the_file_and_the_script_that_rebuilds_it():
    for stem, script in [("reader", "train_reader.py"), ("checker", "train_checker.py"),
                         ("support", "train_support.py"), ("mine", "train_reader.py")]:
        line = unreadable(Path(f"/m/{stem}.safetensors"), OSError("gone"))
        assert line == (f"the model {stem}.safetensors cannot be read (gone); rebuild it: "
                        f"python benchmarks/{script} train")


def test_a_reader_record_that_is_not_json_is_one_clear_reason(tmp_path):
    w, m = record(tmp_path)
    m.write_text("{not json", encoding="utf-8")
    with pytest.raises(DocchatError, match="reader.safetensors cannot be read.*train_reader"):
        SpanReader(w, m)


def test_corrupt_weights_are_one_clear_reason_not_a_traceback(tmp_path):
    """A weights file that is not safetensors (truncated, an HTML page saved in its place)
    raised safetensors' own SafetensorError, which is no OSError or ValueError."""
    pytest.importorskip("torch")
    w, m = record(tmp_path)
    w.write_bytes(b"<html>404 Not Found</html>")
    with pytest.raises(DocchatError, match="reader.safetensors cannot be read.*train_reader"):
        SpanReader(w, m, backend="torch")


# moved from test_reader.py (bodies unchanged)

def test_a_missing_reader_file_is_one_clear_reason(tmp_path):
    with pytest.raises(DocchatError, match="cannot be read.*train_reader"):
        SpanReader(tmp_path / "reader.safetensors", tmp_path / "reader.json")


@pytest.mark.parametrize("name,script", [("checker", "train_checker"),
                                         ("support", "train_support")])
def test_a_missing_checker_file_names_the_script_that_rebuilds_it(tmp_path, name, script):
    with pytest.raises(DocchatError, match=f"{name}.safetensors cannot be read.*{script}"):
        SpanReader(tmp_path / f"{name}.safetensors", tmp_path / f"{name}.json")


def test_the_readers_windows_are_the_tokens_it_was_trained_on():
    """The reader tokenises with ``tokenizers`` (transformers would import torch): the same
    ids, token types and offsets as transformers' tokenizer gave in training, windows of a
    long passage included, and a long question cut at 64 tokens."""
    from transformers import AutoTokenizer

    from rag.answering.span_reader import MAX_QUESTION_TOKENS, STRIDE, PairWindows
    from rag.embedding.model_files import model_dir

    base = model_dir("all-MiniLM-L6-v2")
    hf = AutoTokenizer.from_pretrained(str(base), local_files_only=True)
    windows = PairWindows(base / "tokenizer.json", 256)
    long = " ".join(f"Paragraph {i} describes the hall's seats, naïvely." for i in range(70))
    question = "Which architect rebuilt the Crocus City Hall's façade? " * 12
    passages = [PASSAGE, long, "Short."]
    cut = hf.convert_tokens_to_string(hf.tokenize(question)[:MAX_QUESTION_TOKENS])
    ref = hf([cut] * 3, passages, truncation="only_second", max_length=256, stride=STRIDE,
             return_overflowing_tokens=True, return_offsets_mapping=True, padding=True,
             return_tensors="np")
    win = windows(question, passages)
    assert win.owner == ref["overflow_to_sample_mapping"].tolist() and len(win.owner) > 3
    assert (win.ids == ref["input_ids"]).all() and (win.types == ref["token_type_ids"]).all()
    assert (win.mask == ref["attention_mask"]).all()
    for i in range(len(win.owner)):  # the passage's offsets (the question's are into the
        # question as cut: transformers' cut text is lower-cased and accent-stripped)
        ours, theirs = win.offsets[i], ref["offset_mapping"][i].tolist()
        assert [tuple(ours[j]) for j in range(len(ours)) if win.context[i, j]] == \
            [tuple(theirs[j]) for j in range(len(ours)) if win.context[i, j]]
