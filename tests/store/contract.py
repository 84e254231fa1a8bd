"""The store contract: the behaviour every store backend must have, whatever holds the index.

Reusable test classes, as Haystack's ``haystack/testing/document_store.py``: a store's test
module subclasses ``StoreContract`` (or one of its parts: ``SearchContract``,
``UpdateContract``, ``ScopeContract``) and provides the ``store_url`` fixture, the
DOCCHAT_STORE value of a fresh, empty store of that backend (and removes whatever the store
left outside ``tmp_path``). This module's name does not start with ``test_``, so pytest
collects its tests only through those subclasses (tests/store/test_store_contract.py: FAISS,
milvus-lite, a Milvus server).

The real embedding model (loaded once per test process), real files, the real indexing: the
contract is marked slow. Rank sets and top-1 results are asserted, never raw scores: BM25
statistics differ between engines (milvus-lite even scores each of its segments with its own
IDF).
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from rag import Settings, ask
from rag.index import Index

ROOT = Path(__file__).resolve().parents[2]
SEED = ROOT / "seeds" / "crocus-city-hall-attack.txt"

DOCS = {
    "volcanoes.txt": (
        "Volcanoes form where magma from the mantle rises through cracks in the crust. "
        "During an eruption, molten rock, ash and gas escape from the vent. Lava flows can "
        "travel many kilometres before they cool into basalt. Some volcanoes erupt "
        "explosively because their magma is thick and traps gas, while shield volcanoes "
        "release runny lava quietly for years. Volcanologists watch seismic tremors and "
        "ground swelling to forecast an eruption."),
    "bread.txt": (
        "Sourdough bread rises because a starter of wild yeast and lactic acid bacteria "
        "ferments the flour. The baker feeds the starter with flour and water every day. "
        "A long, cool fermentation gives the loaf its sour taste and open crumb. Before "
        "baking, the dough is shaped, proofed in a basket and scored with a blade. A hot "
        "oven with steam lets the crust expand before it hardens."),
    "chess.md": (
        "# Chess openings\n\n"
        "The Queen's Gambit opens with a pawn offered to the opponent to gain control of the "
        "centre. In the Sicilian Defence, Black answers the king's pawn with the c-pawn. "
        "Castling early keeps the king safe behind a wall of pawns. Grandmasters memorise "
        "long lines of these openings before a tournament.\n"),
    "lighthouses.txt": (
        "Lighthouse keepers trimmed the wicks and wound the clockwork that turned the lens "
        "every night. A Fresnel lens bends the lamp's light into a beam seen far out at sea. "
        "Each lighthouse flashes its own pattern so that sailors can tell which coast they "
        "are passing. Most lights are now automatic and the keepers' cottages are museums."),
}
QUERIES = {  # question -> the file whose chunks must rank first
    "How does magma reach the surface during an eruption?": "volcanoes.txt",
    "What makes sourdough bread rise?": "bread.txt",
    "Which chess opening offers a pawn?": "chess.md",
    "Who wound the clockwork that turned the lighthouse lens?": "lighthouses.txt",
}


def settings_for(tmp_path: Path, store: str, **kw) -> Settings:
    base = dict(index_dir=str(tmp_path / "index"), store=store, chunk_tokens=48,
                chunk_overlap=0)
    base.update(kw)
    return Settings.from_env(**base)


def write_docs(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in DOCS.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def names(hits) -> list[str]:
    return [Path(h.path).name for h in hits]


def assert_exact_offsets(idx: Index, hits) -> None:
    """The citation invariant: a passage is exactly its page's text between its offsets."""
    assert hits
    for h in hits:
        assert idx.page_text(h.path, h.page)[h.start:h.end] == h.text


def dense_ranking(idx: Index, question: str, n: int) -> list[str]:
    snap = idx.snapshot()
    scores = snap.search_dense(idx.embedder().encode([question])[0], n)
    order = sorted(scores, key=lambda c: -scores[c])
    by_id = {r.id: r for r in snap.chunks(order)}
    return [Path(by_id[c].path).name for c in order]


TWO_YEARS = {
    "report-2023.md": "# Annual report 2023\n\nIn 2023 the Vantor paper mill employed 412 "
                      "workers and shipped 9,000 tonnes of paper to Riga.\n",
    "report-2024.md": "# Annual report 2024\n\nIn 2024 the Vantor paper mill employed 388 "
                      "workers and shipped 9,600 tonnes of paper to Tallinn.\n",
}


def passages(hits) -> list[tuple[str, int, int, int]]:
    return [(Path(h.path).name, h.page, h.start, h.end) for h in hits]


class _Contract:
    """What every part of the contract stands on: the store under test."""

    @pytest.fixture
    def store_url(self):
        """The DOCCHAT_STORE value of a fresh, empty store of the backend under test."""
        raise NotImplementedError(
            f"{type(self).__name__} runs the store contract: it must provide store_url")


@pytest.mark.slow
class SearchContract(_Contract):
    """Search ranks the answering file first, with exact offsets; a seed question is answered
    with a verbatim cited sentence and an off-topic one abstains."""

    def test_search_ranks_the_file_that_answers_first_on_every_backend(self, tmp_path, store_url):
        docs = write_docs(tmp_path / "docs")
        idx = Index(tmp_path / "index", settings_for(tmp_path, store_url))
        summary = idx.update([docs])
        assert summary.added and not summary.skipped
        st = idx.status()
        assert (st.files, st.chunks) == (4, summary.chunks)
        per_file = {d.name: d.chunks for d in idx.documents()}
        # several chunks each: rank sets mean something
        assert all(n >= 2 for n in per_file.values())
        for question, want in QUERIES.items():
            hits = idx.search(question, k=3)
            assert names(hits)[0] == want, question
            assert_exact_offsets(idx, hits)
            # the rank set: every chunk of the answering file comes before any other file's chunk
            ranking = dense_ranking(idx, question, st.chunks)
            assert set(ranking[:per_file[want]]) == {want}, (question, ranking)
        # lexical search alone finds a word only one chunk holds
        lex = idx.snapshot().search_lexical("basalt", 5)
        assert [Path(r.path).name for r in idx.snapshot().chunks(list(lex))] == ["volcanoes.txt"]

    def test_seed_question_is_answered_with_a_verbatim_cited_sentence(self, tmp_path, store_url):
        seeds = tmp_path / "seeds"
        seeds.mkdir()
        shutil.copy(SEED, seeds / SEED.name)
        idx = Index(tmp_path / "index", settings_for(tmp_path, store_url, chunk_tokens=200,
                                                     chunk_overlap=40))
        idx.update([seeds])
        a = ask(idx, "How many people died?")
        assert not a.abstained and "133" in a.answer
        cited = [s for s in a.sentences if s.citations]
        assert cited
        by_n = {s.n: s for s in a.sources}
        for sentence in cited:
            for n in sentence.citations:
                src = by_n[n]
                assert sentence.text in src.text  # verbatim in its passage
                assert idx.page_text(src.path, src.page)[src.start:src.end] == src.text
        off = ask(idx, "What is the boiling point of water?")
        assert off.abstained


@pytest.mark.slow
class UpdateContract(_Contract):
    """Adding, changing, deleting, renaming and copying files keep search in step; a model or
    chunker change rebuilds the index."""

    def test_add_change_delete_rename_and_duplicate_keep_search_in_step(self, tmp_path, store_url):
        docs = write_docs(tmp_path / "docs")
        idx = Index(tmp_path / "index", settings_for(tmp_path, store_url))
        idx.update([docs])

        # change: the bread file becomes a text about violins
        (docs / "bread.txt").write_text(
            "A violin has four strings tuned in fifths and is played with a bow strung with "
            "horsehair. The luthier carves the spruce top and maple back by hand. Rosin on the "
            "bow grips the strings so that they vibrate.", encoding="utf-8")
        s = idx.update()
        assert s.updated == (str(docs / "bread.txt"),) and s.embedded > 0
        hits = idx.search("How is a violin played?", k=3)
        assert names(hits)[0] == "bread.txt" and "violin" in hits[0].text
        assert not any("sourdough" in h.text.lower() for h in idx.search("sourdough starter", k=10))
        assert_exact_offsets(idx, hits)

        # delete
        (docs / "chess.md").unlink()
        s = idx.update()
        assert s.removed == (str(docs / "chess.md"),)
        assert "chess.md" not in names(idx.search("Which chess opening offers a pawn?", k=10))
        assert "chess.md" not in {d.name for d in idx.documents()}

        # rename: nothing is embedded again, and hits and pages follow the new name
        (docs / "volcanoes.txt").rename(docs / "eruptions.txt")
        s = idx.update()
        assert (s.embedded, s.added, s.removed) == (0, (str(docs / "eruptions.txt"),),
                                                    (str(docs / "volcanoes.txt"),))
        hits = idx.search("How does magma reach the surface during an eruption?", k=3)
        assert names(hits)[0] == "eruptions.txt"
        assert_exact_offsets(idx, hits)
        assert idx.page_text(str(docs / "volcanoes.txt"), 1) == ""

        # duplicate content under a second name: listed twice, stored and embedded once
        before = idx.status().chunks
        shutil.copy(docs / "lighthouses.txt", docs / "lighthouses-copy.txt")
        s = idx.update()
        assert s.added == (str(docs / "lighthouses-copy.txt"),) and s.embedded == 0
        assert idx.status().chunks == before
        assert {"lighthouses.txt", "lighthouses-copy.txt"} <= {d.name for d in idx.documents()}
        hits = idx.search("Who wound the clockwork that turned the lighthouse lens?", k=3)
        # provenance of a shared content: the first of its paths in sort order ('-' < '.')
        assert names(hits)[0] == "lighthouses-copy.txt"
        # a no-change run touches nothing
        again = idx.update()
        assert (again.embedded, again.added, again.updated, again.removed) == (0, (), (), ())
        assert idx.status().chunks == before

    def test_model_or_chunker_change_rebuilds_the_index(self, tmp_path, store_url):
        from rag.embedding.model_files import model_dir
        from rag.settings import DEFAULT_MODEL

        docs = write_docs(tmp_path / "docs")
        idx = Index(tmp_path / "index", settings_for(tmp_path, store_url))
        n = idx.update([docs]).chunks

        rechunked = Index(tmp_path / "index", settings_for(tmp_path, store_url, chunk_tokens=96))
        s = rechunked.update()
        assert s.full_rebuild and s.reason.startswith("chunker changed")
        assert s.embedded == s.chunks < n  # bigger chunks: fewer, all embedded again
        assert names(rechunked.search("What makes sourdough bread rise?", k=2))[0] == "bread.txt"

        # the same weights under another name is another model as far as the manifest knows
        renamed = Index(tmp_path / "index", settings_for(tmp_path, store_url, chunk_tokens=96,
                                                         embed_model=str(model_dir(DEFAULT_MODEL))))
        s = renamed.update()
        assert s.full_rebuild and s.reason.startswith("model changed")
        assert s.embedded == s.chunks and renamed.status().chunks == s.chunks
        hits = renamed.search("Which chess opening offers a pawn?", k=3)
        assert names(hits)[0] == "chess.md"
        assert_exact_offsets(renamed, hits)


@pytest.mark.slow
class ScopeContract(_Contract):
    """A search or a question limited to some documents (issue 21)."""

    def test_a_scoped_search_filters_inside_each_search_before_the_top_n(self, tmp_path, store_url):
        """Filtering happens inside each search, before the top n are taken. Dense: the scoped
        top n is the top n of an index holding only the chosen documents (same passages, order
        and scores). BM25: the scoped top n is the unscoped ranking restricted to the scope, with
        the same scores (the corpus statistics stay the whole index's, so a score means the same
        scoped or not; an index of only those documents would have other statistics)."""
        from rag.store import Scope

        docs = write_docs(tmp_path / "docs")
        for name, text in TWO_YEARS.items():
            (docs / name).write_text(text, encoding="utf-8")
        idx = Index(tmp_path / "index", settings_for(tmp_path, store_url))
        idx.update([docs])
        only = write_docs(tmp_path / "only")
        for name in ("volcanoes.txt", "chess.md"):
            (only / name).unlink()
        small = Index(tmp_path / "small",
                      settings_for(tmp_path, "", index_dir=str(tmp_path / "small")))
        small.update([only])
        chosen = [str(docs / "bread.txt"), str(docs / "lighthouses.txt")]
        scope = Scope(idx.scope(chosen).shas)
        snap, small_snap = idx.snapshot(), small.snapshot()

        def named(s, scores):
            by_id = {r.id: r for r in s.chunks(list(scores))}
            return [(Path(by_id[c].path).name, by_id[c].start, round(scores[c], 4))
                    for c in sorted(scores, key=lambda c: (-scores[c], by_id[c].start))]

        for question in [*QUERIES, "How many workers did the mill employ?"]:
            q = idx.embedder().encode([question])[0]
            assert named(snap, snap.search_dense(q, 3, scope)) == \
                named(small_snap, small_snap.search_dense(q, 3)), question
            scoped = named(snap, snap.search_lexical(question, 3, scope))
            everything = named(snap, snap.search_lexical(question, 1000))
            assert scoped == [p for p in everything if p[0] in ("bread.txt", "lighthouses.txt")][:3]
            hits = idx.search(question, 3, documents=chosen)
            # k of the scope, not a global top k's rest
            assert len(hits) == 3 and {Path(h.path).name for h in hits} <= {
                "bread.txt", "lighthouses.txt"}, question
            assert_exact_offsets(idx, hits)

    def test_a_scoped_question_answers_from_the_chosen_document(self, tmp_path, store_url):
        docs = tmp_path / "docs"
        docs.mkdir()
        for name, text in TWO_YEARS.items():
            (docs / name).write_text(text, encoding="utf-8")
        idx = Index(tmp_path / "index", settings_for(tmp_path, store_url))
        idx.update([docs])
        q = "How many workers did the Vantor paper mill employ?"
        for name, number, other in (("report-2023.md", "412", "388"),
                                    ("report-2024.md", "388", "412")):
            a = ask(idx, q, documents=[str(docs / name)])
            assert not a.abstained and number in a.answer and other not in a.answer, a.answer
            assert {Path(s.path).name for s in a.sources} == {name}
            assert a.scope == (str(docs / name),)
        by_id = {d.name: d.id for d in idx.documents()}
        assert "412" in ask(idx, q, documents=[by_id["report-2023.md"]]).answer


class StoreContract(SearchContract, UpdateContract, ScopeContract):
    """The whole contract: a store's test class inherits it and provides ``store_url``."""
