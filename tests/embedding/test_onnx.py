"""The ONNX Runtime backend of the local model (DOCCHAT_EMBED_BACKEND=onnx | onnx-int8): the
torch model's vectors within 1e-4 cosine distance in fp32, within the 0.99 gate in int8, an
int8 index is another model's, the export is atomic and reproducible, and neither torch nor
sentence-transformers is needed to embed once the export is there."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from conftest import ROOT, SHARED_EVAL, clean_env, docchat

from rag.embedding import onnx_export
from rag.embedding.local import Embedder
from rag.embedding.model_files import model_dir
from rag.errors import DocchatError, IndexMismatchError, SettingsError
from rag.index import Index
from rag.settings import DEFAULT_MODEL, Settings

pytestmark = pytest.mark.slow

LONG = ("The committee reviewed the harbour budget line by line, and every figure was checked "
        "against the invoices of the previous winter. ") * 30  # ~600 tokens: truncated at 256
TEXTS = [
    "hello",
    "ok",
    "What causes a river to flood in spring?",
    "The Zambezi river plunges over Victoria Falls; spray rises hundreds of metres.",
    "Mount Etna on Sicily erupts several times a decade. Lava flows have reached Catania.",
    LONG,
    "word " * 400,
    "Ein kurzer deutscher Satz über die Brücken von Köln und ihre Geschichte.",
    "¿Dónde está la biblioteca municipal? Cierra a las ocho de la tarde.",
    "Привет! Как дела? Сегодня в Москве идёт снег.",
    "北京是中华人民共和国的首都，也是全国的政治中心。",
    "東京タワーは1958年に完成した電波塔です。",
    "def square(x: float) -> float:\n    return x ** 2  # the square of x",
    "SELECT name, total FROM invoices WHERE total > 1000 ORDER BY total DESC;",
    "3.14159 2.71828 1.41421 6.02e23 -273.15",
    "2024-05-01 12:00:00 UTC, invoice #4471, total EUR 1,234.56",
    "Tie2/Angiopoietin-1 signalling regulates vascular quiescence in adult mice (n=12, p<0.01).",
    "  leading and trailing spaces   ",
    "ÀÉÎÕÜ àéîõü ß ø å æ œ — “quotes” and ‘apostrophes’ … ellipsis",
    "A. B. C. 1) 2) 3) - * + = / \\ | ~ ^",
    "The quick brown fox jumps over the lazy dog. " * 5,
]


def scifact_texts(n: int) -> list[str]:
    corpus = SHARED_EVAL / "beir_scifact" / "corpus.jsonl"
    out: list[str] = []
    if corpus.exists():
        with corpus.open() as f:
            for i, line in enumerate(f):
                if i % 53 == 0:
                    d = json.loads(line)
                    out.append((d["title"] + ". " + d["text"])[:900])
                if len(out) == n:
                    break
    return out


@pytest.fixture(scope="module")
def torch_vectors() -> np.ndarray:
    return Embedder.shared(DEFAULT_MODEL, backend="torch").encode(TEXTS)


@pytest.fixture(scope="module")
def onnx_fp32() -> Embedder:
    return Embedder.shared(DEFAULT_MODEL, backend="onnx")


@pytest.fixture(scope="module")
def onnx_int8() -> Embedder:
    return Embedder.shared(DEFAULT_MODEL, backend="onnx-int8")


def test_onnx_fp32_gives_the_torch_vectors_within_1e_4_cosine_distance(onnx_fp32, torch_vectors):
    tok = onnx_fp32.model._tok
    assert len(tok.encode(LONG).ids) == 256  # the long texts are truncated, the same way
    got = onnx_fp32.encode(TEXTS)
    assert got.shape == torch_vectors.shape == (len(TEXTS), 384) and got.dtype == np.float32
    assert np.allclose(np.linalg.norm(got, axis=1), 1, atol=1e-5)
    distance = 1 - (got * torch_vectors).sum(axis=1)
    assert distance.max() < 1e-4, dict(zip(TEXTS, distance.round(7)))
    assert onnx_fp32.name == DEFAULT_MODEL  # the same model in an index's manifest


def test_onnx_batches_by_length_give_the_same_vectors_as_one_text_at_a_time(onnx_fp32):
    together = onnx_fp32.encode(TEXTS)
    alone = np.stack([onnx_fp32.encode([t])[0] for t in TEXTS])
    assert np.abs(together - alone).max() < 1e-5


def test_int8_passes_the_quality_gate_cosine_099(onnx_int8, onnx_fp32, torch_vectors):
    texts = TEXTS + scifact_texts(30)
    ref = np.concatenate([torch_vectors, onnx_fp32.encode(texts[len(TEXTS):])])
    cos = (onnx_int8.encode(texts) * ref).sum(axis=1)
    summary = {"min": float(cos.min()), "p1": float(np.percentile(cos, 1)),
               "median": float(np.median(cos))}
    assert cos.min() >= 0.99, (summary, texts[int(cos.argmin())])
    assert onnx_int8.name == DEFAULT_MODEL + "@onnx-int8"


def test_int8_quantises_only_the_attention_projections():
    folder = onnx_export.cache_root() / onnx_export.export_key(model_dir(DEFAULT_MODEL))
    info = json.loads((folder / onnx_export.INFO).read_text())
    assert len(info["int8_nodes"]) == 4 * 6  # query, key, value, output of 6 layers
    assert all("attention/" in n for n in info["int8_nodes"])


@pytest.fixture
def docs(tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "bridges.md").write_text("# Bridges\nThe Golden Gate bridge opened in 1937. Its "
                                       "towers are painted international orange.")
    (folder / "rivers.txt").write_text("The Zambezi river plunges over Victoria Falls. Locals "
                                       "call the falls the smoke that thunders.")
    return folder


def test_an_index_switches_between_torch_and_onnx_freely_and_re_embeds_for_int8(tmp_path, docs):
    root = tmp_path / "index"
    torch_index = Index.open(root, Settings(index_dir=str(root)), create=True)
    first = torch_index.update([docs])
    assert first.embedded == first.chunks > 0
    # fp32 ONNX is the same model: nothing re-embedded, questions answered from the index
    fp32 = Index.open(root, Settings(index_dir=str(root), embed_backend="onnx"))
    same = fp32.update([docs])
    assert not same.full_rebuild and same.embedded == 0
    assert fp32.search("Golden Gate bridge", k=1)[0].path.endswith("bridges.md")
    # int8 is another model: refused for questions until rebuilt, rebuilt like a model change
    int8 = Index.open(root, Settings(index_dir=str(root), embed_backend="onnx-int8"))
    with pytest.raises(IndexMismatchError, match="onnx-int8"):
        int8.search("Golden Gate bridge", k=1)
    s = int8.update([docs])
    assert s.full_rebuild and s.reason.startswith("model changed") and s.embedded == s.chunks
    assert int8.status().model == DEFAULT_MODEL + "@onnx-int8"
    assert int8.search("Golden Gate bridge", k=1)[0].path.endswith("bridges.md")
    back = torch_index.update([docs])  # and back to torch: once more
    assert back.full_rebuild and back.embedded == back.chunks


def test_the_export_is_reproducible_and_atomic(tmp_path, monkeypatch):
    src = model_dir(DEFAULT_MODEL)
    a = onnx_export.build(src, tmp_path / "a")
    b = onnx_export.build(src, tmp_path / "b")
    info_a, info_b = (json.loads((f / onnx_export.INFO).read_text()) for f in (a, b))
    assert info_a["sha256"] == info_b["sha256"]  # byte for byte the same files
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".export-")]

    # another process finished the same export first: its folder is kept, no error
    again = onnx_export.build(src, tmp_path / "a")
    assert again == a and json.loads((a / onnx_export.INFO).read_text()) == info_a

    # a failure half-way leaves no folder (the next use exports again), and no temporary one
    def broken(*_a, **_k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(onnx_export, "quantize_int8", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        onnx_export.build(src, tmp_path / "c")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b"]


def test_ensure_exports_once_into_the_folder_the_model_files_name(tmp_path, monkeypatch):
    src = model_dir(DEFAULT_MODEL)
    calls: list = []
    real = onnx_export.build
    monkeypatch.setattr(onnx_export, "build", lambda *a: calls.append(a) or real(*a))
    first = onnx_export.ensure(src, "int8", tmp_path)
    second = onnx_export.ensure(src, "fp32", tmp_path)
    assert len(calls) == 1 and first.parent == second.parent
    assert first.parent.name == onnx_export.export_key(src)


PROBE = """
import json, sys
from rag.embedding.local import embedder_for
from rag.settings import Settings
vecs = embedder_for(Settings.from_env()).encode(["a short text", "another one"])
print(json.dumps({"shape": list(vecs.shape), "torch": "torch" in sys.modules,
                  "st": "sentence_transformers" in sys.modules}))
"""


@pytest.mark.parametrize("backend", ["onnx", "onnx-int8"])
def test_an_onnx_process_embeds_without_importing_torch(backend, onnx_fp32, onnx_int8):
    onnx_fp32.warm_up(), onnx_int8.warm_up()  # the export exists (the default cache)
    proc = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                          env=clean_env(DOCCHAT_EMBED_BACKEND=backend), cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.splitlines()[-1]) == {"shape": [2, 384], "torch": False,
                                                        "st": False}


NO_ORT = ("import sys; sys.modules['onnxruntime'] = None\n"  # as if it were not installed
          "from rag.cli import main; sys.exit(main(sys.argv[1:]))")


def test_torch_runs_without_onnxruntime_and_onnx_says_in_one_line_that_it_is_missing(
        tmp_path, docs):
    index = tmp_path / "index"
    ok = subprocess.run([sys.executable, "-c", NO_ORT, "index", str(docs), "--index",
                         str(index), "--json"], capture_output=True, text=True,
                        env=clean_env(), cwd=ROOT, timeout=300)
    assert ok.returncode == 0, ok.stderr
    bad = subprocess.run([sys.executable, "-c", NO_ORT, "index", str(docs), "--index",
                          str(index), "--full"], capture_output=True, text=True,
                         env=clean_env(DOCCHAT_EMBED_BACKEND="onnx"), cwd=ROOT, timeout=300)
    assert bad.returncode == 1
    lines = bad.stderr.strip().splitlines()
    assert len(lines) == 1 and "needs onnxruntime" in lines[0] and "pip install" in lines[0]


def test_the_backend_setting_is_validated_and_auto_runs_onnx_where_it_can(tmp_path):
    import shutil

    from rag.embedding.model_files import resolve_backend

    assert Settings().embed_backend == "auto"
    assert resolve_backend("auto", DEFAULT_MODEL) == "onnx"  # onnxruntime is installed here
    assert resolve_backend("torch", DEFAULT_MODEL) == "torch"
    other = tmp_path / "cls-pooled"  # a model the ONNX backend cannot pool: torch
    shutil.copytree(model_dir(DEFAULT_MODEL), other)
    cfg = other / "1_Pooling" / "config.json"
    cfg.write_text(json.dumps({**json.loads(cfg.read_text()), "pooling_mode_mean_tokens": False,
                               "pooling_mode_cls_token": True}))
    assert resolve_backend("auto", str(other)) == "torch"
    with pytest.raises(SettingsError, match="DOCCHAT_EMBED_BACKEND='tensorrt': must be one of"):
        Settings(embed_backend="tensorrt")
    proc = docchat("status", env=clean_env(DOCCHAT_EMBED_BACKEND="int8"))
    assert proc.returncode == 2 and "DOCCHAT_EMBED_BACKEND" in proc.stderr


def test_a_model_onnx_cannot_pool_is_refused_before_any_export(tmp_path):
    import shutil

    other = tmp_path / "cls-pooled"
    shutil.copytree(model_dir(DEFAULT_MODEL), other)
    cfg = other / "1_Pooling" / "config.json"
    cfg.write_text(json.dumps({**json.loads(cfg.read_text()), "pooling_mode_mean_tokens": False,
                               "pooling_mode_cls_token": True}))
    emb = Embedder(str(other), backend="onnx", onnx_dir=str(tmp_path / "cache"))
    with pytest.raises(DocchatError, match="mean pooling"):
        emb.encode(["x"])
    assert not (tmp_path / "cache").exists()


def test_the_onnx_tokenizer_gives_what_transformers_gives(onnx_fp32):
    """The alignment reads word ids and offsets; on ONNX they come from ``tokenizers``
    directly (transformers imports torch): the same as transformers' fast tokenizer."""
    from transformers import AutoTokenizer

    hf = AutoTokenizer.from_pretrained(str(model_dir(DEFAULT_MODEL)), local_files_only=True)
    ours = onnx_fp32.model.tokenizer
    a = hf(TEXTS, truncation=True, max_length=256, return_offsets_mapping=True)
    b = ours(TEXTS, truncation=True, max_length=256, return_offsets_mapping=True)
    for i in range(len(TEXTS)):
        assert a["input_ids"][i] == b["input_ids"][i], TEXTS[i]
        assert a.word_ids(i) == b.word_ids(i), TEXTS[i]
        assert [tuple(o) for o in a["offset_mapping"][i]] == \
            [tuple(o) for o in b["offset_mapping"][i]], TEXTS[i]


ASK_PROBE = """
import json, sys
from rag.cli import main
rc = main(sys.argv[1:])
print(json.dumps({"rc": rc, "torch": "torch" in sys.modules,
                  "transformers": "transformers" in sys.modules}))
"""


def test_asking_on_the_default_backend_loads_no_torch_and_answers_as_torch_does(tmp_path):
    """The default (auto, onnxruntime installed) indexes and answers with the embedder and
    the span reader on ONNX Runtime: no torch or transformers import (most of a CLI call's
    time on torch), and the answer, its sources and their order are torch's."""
    index = tmp_path / "index"
    seed = ROOT / "seeds"
    answers = {}
    for backend in ("auto", "torch"):
        env = clean_env(DOCCHAT_EMBED_BACKEND=backend)
        if backend == "auto":
            built = subprocess.run([sys.executable, "-c", ASK_PROBE, "index", str(seed),
                                    "--index", str(index)], capture_output=True, text=True,
                                   env=env, cwd=ROOT, timeout=600)
            assert built.returncode == 0, built.stderr
            assert json.loads(built.stdout.splitlines()[-1])["torch"] is False
        proc = subprocess.run([sys.executable, "-c", ASK_PROBE, "ask", "--index", str(index),
                               "--json", "Who carried out the attack?"], capture_output=True,
                              text=True, env=env, cwd=ROOT, timeout=600)
        assert proc.returncode == 0, proc.stderr
        *out, probe = proc.stdout.splitlines()
        assert json.loads(probe) == {"rc": 0, "torch": backend == "torch",
                                     "transformers": backend == "torch"}
        answers[backend] = json.loads("\n".join(out))
    onnx, torch = answers["auto"], answers["torch"]
    assert "Islamic State" in onnx["answer"] and onnx["answer"] == torch["answer"]
    where = [[(s["path"], s["start"], s["end"]) for s in a["sources"]] for a in (onnx, torch)]
    assert where[0] == where[1]


def test_the_alignment_token_vectors_come_from_the_onnx_model_too(onnx_fp32):
    from rag.answering.alignment import TokenVectors

    torch_tokens = TokenVectors(Embedder.shared(DEFAULT_MODEL, backend="torch").foreground)
    onnx_tokens = TokenVectors(onnx_fp32.foreground)
    texts = ["When did the Golden Gate bridge open?", "Lava reached Catania in 1669."]
    for (w1, v1), (w2, v2) in zip(torch_tokens(texts), onnx_tokens(texts)):
        assert w1 == w2 and v1.shape == v2.shape
        assert (v1 * v2).sum(axis=1).min() > 0.9999


def test_auto_runs_on_torch_when_the_onnx_files_cannot_be_made(tmp_path, caplog):
    """The default backend must never stop docchat: an export that fails (here its cache
    folder cannot be made) leaves the embedder and the reader on torch, with a warning;
    asking for onnx by name still fails, so a user who chose it learns why."""
    from rag.answering.span_reader import SpanReader

    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    cache = str(blocker / "cache")
    emb = Embedder(DEFAULT_MODEL, backend="auto", onnx_dir=cache)
    vecs = emb.encode(["hello", "a second text"])
    assert emb.backend == "torch" and vecs.shape == (2, 384)
    assert "running on torch" in caplog.text
    reader = SpanReader(backend="auto", onnx_dir=cache)
    assert reader.backend == "torch"
    assert reader.read("Who rebuilt it?", ["Ivan Petrov rebuilt it in 2027."])[0].span
    with pytest.raises(OSError):
        Embedder(DEFAULT_MODEL, backend="onnx", onnx_dir=cache).encode(["x"])


def test_an_onnxruntime_that_does_not_load_leaves_auto_on_torch_and_names_itself(
        tmp_path, docs):
    """onnxruntime installed but broken (a missing shared library): the default indexes on
    torch with a warning; asking for onnx by name is one line saying it does not load (not
    that it is missing)."""
    fake = tmp_path / "site" / "onnxruntime"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text(
        'raise ImportError("libonnxruntime.so.1: cannot open shared object file")\n')
    env = clean_env(PYTHONPATH=str(tmp_path / "site"))
    ok = docchat("index", docs, "--index", tmp_path / "index", "--json", env=env, cwd=ROOT)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["chunks"] > 0
    bad = docchat("index", docs, "--index", tmp_path / "index2",
                  env={**env, "DOCCHAT_EMBED_BACKEND": "onnx"}, cwd=ROOT)
    lines = bad.stderr.strip().splitlines()
    assert bad.returncode == 1 and len(lines) == 1, bad.stderr
    assert "does not load" in lines[0] and "cannot open shared object" in lines[0]
