"""ui/examples.py: the example questions an empty chat offers."""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow


def test_example_questions_are_checked_before_they_are_offered(tmp_path):
    """Issue 19, item 7: the examples were mechanical quotes that abstained. Now: a question
    about a section that gets an answer from its own document, else a summary."""
    from rag.answer import ask
    from rag.settings import Settings
    from ui.examples import Examples
    from ui.service import Service

    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "mill-report.md").write_text(
        "# Mill report\n\n## Staff\n\nThe Vantor paper mill employed 412 workers in 2023, "
        "most of them on three shifts.\n\n## Output\n\nThe mill shipped 9,000 tonnes.\n")
    (mine / "notes.txt").write_text("Plain notes without any heading at all, about lanterns "
                                    "carried on the river every August.\n")
    settings = Settings.from_env(index_dir=str(tmp_path / "index"), docs=(str(mine),),
                                 upload_dir=str(tmp_path / "uploads"), watch_seconds=0)
    service = Service(settings)
    service.ensure_index()
    examples = Examples(service.index).questions(3)
    assert sorted(examples) == ["Summarise notes.txt",
                                "What does mill report say about staff?"], examples
    a = ask(service.index, "What does mill report say about staff?")
    assert not a.abstained and a.sources[0].path.endswith("mill-report.md")


    assert service.example_questions(2) == examples[:2]  # the page's call: the same, cached
