"""Page text line by line (rag/ingest/formats/pagetext.py): each line one run of words, blank
lines dropped, structural lines recorded as offsets into the very text stored; the per-file
reading budget (DOCCHAT_READ_SECONDS) that every format's loader looks at."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from rag.errors import LoadError
from rag.ingest.formats import pagetext
from rag.ingest.formats.pagetext import OTHER, TITLE, Deadline, PageText, clean


def test_clean_makes_one_line_of_any_whitespace():
    assert clean("  Zürich\t\tmeets \n the\r\nLimmat\u00a0\u2003river \u2028 ") == \
        "Zürich meets the Limmat river"
    assert clean(" \n\t ") == "" and clean("") == ""
    assert clean("東京 🚀") == "東京 🚀"


def test_lines_are_joined_by_newlines_and_blank_ones_are_dropped():
    out = PageText()
    assert not out
    for line in ["", "First   line", " \n ", "Second\nline", "\t"]:
        out.add(line)
    assert out
    page = out.page("a.docx", 3, "slide 3")
    assert (page.path, page.page, page.label) == ("a.docx", 3, "slide 3")
    assert page.text == "First line\nSecond line" and page.structure == ()


def test_only_blank_lines_make_an_empty_page_text():
    out = PageText()
    out.add("   ", TITLE)
    out.add("\n\n", OTHER)
    assert not out
    assert out.page("x", 1).text == "" and out.page("x", 1).structure == ()


def test_structure_is_offsets_of_the_cleaned_lines_level_0_included():
    out = PageText()
    out.add("  Annual   report ", TITLE)  # level 0: a document title, recorded all the same
    out.add("Some prose.")
    out.add("", 1)  # a blank heading: neither a line nor structure
    out.add("Café\tcosts", 2)
    out.add("Item | Cost", OTHER)
    page = out.page("r.docx", 1)
    assert page.text == "Annual report\nSome prose.\nCafé costs\nItem | Cost"
    assert [(page.text[s:e], level) for s, e, level in page.structure] == [
        ("Annual report", 0), ("Café costs", 2), ("Item | Cost", 9)]
    assert isinstance(page.structure, tuple)


def test_a_long_page_keeps_exact_offsets():
    out = PageText()
    for i in range(20_000):
        out.add(f"Heading {i} é", 1 if i % 2 else None)
    page = out.page("big.html", 1)
    assert len(page.structure) == 10_000
    assert all(page.text[s:e] == f"Heading {i * 2 + 1} é"
               for i, (s, e, _) in enumerate(page.structure))


@pytest.fixture
def clock(monkeypatch):
    """pagetext's monotonic clock, set by the test."""
    now = [1000.0]
    monkeypatch.setattr(pagetext, "time", SimpleNamespace(monotonic=lambda: now[0]))
    return now


def test_the_deadline_passes_until_its_seconds_are_spent_then_says_which_setting(clock):
    deadline = Deadline(2.5)
    deadline.check()
    clock[0] += 2.0
    assert deadline.left() == pytest.approx(0.5)
    deadline.check()
    clock[0] += 0.6
    assert deadline.left() < 0
    with pytest.raises(LoadError, match=r"^took longer than 2.5 s to read "
                                        r"\(DOCCHAT_READ_SECONDS\)$"):
        deadline.check()


@pytest.mark.parametrize("seconds", [0, -1])
def test_no_budget_means_no_limit(clock, seconds):
    deadline = Deadline(seconds)
    clock[0] += 10**9
    deadline.check()
    assert deadline.left() == 86_400.0


def test_a_huge_budget_says_a_day_left_at_most(clock):
    assert Deadline(10**7).left() == 86_400.0
    assert Deadline(60).left() == pytest.approx(60)
