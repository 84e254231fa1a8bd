"""The chat page in a real browser: Debian's Chromium driven by Playwright, against a real
`docchat serve` process. Screenshots go to docs/screenshots/."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from playwright.sync_api import expect

from rag.types import CANNOT_ANSWER
from server import ROOT, running_server

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync"]
SHOTS = ROOT / "docs" / "screenshots"
FINAL = "#chat .dc-answer, #chat .dc-abstain, #chat .dc-error"
TIMEOUT = 90_000  # ms; the first question loads the embedding model

FACT = ("# Field notes\n\nThe lighthouse on Vrana island was painted teal in 2029 by the "
        "keeper Ilse Marrow. It is 31 metres tall.\n")
XSS = ("# Festival notes\n\nThe Zorblax festival takes place every April in Kuldiga. "
       "<script>window.__xss = 1; alert('xss')</script> "
       "<img src=x onerror=\"window.__xss = 2; alert('img')\"> "
       "The festival ends with a lantern parade on the river.\n")


def chromium_path() -> str:
    if not Path(CHROMIUM).exists() or shutil.which("chromium") is None:
        msg = "Debian's Chromium is missing (make browser, or apt-get install chromium)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(msg + " -- required in CI")
        pytest.skip(msg)
    return CHROMIUM


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    work = tmp_path_factory.mktemp("browser")
    with running_server(work) as (url, _):
        yield url


@pytest.fixture(scope="module")
def browser():
    path = chromium_path()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, base):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = context.new_page()
    pg.dialogs = []
    pg.on("dialog", lambda d: (pg.dialogs.append(d.message), d.dismiss()))
    pg.goto(base)
    pg.wait_for_selector("#question textarea")
    yield pg
    context.close()


def ask(page, question: str):
    """Type a question, press Enter, wait for the finished bubble; returns its locator."""
    before = page.locator(FINAL).count()
    box = page.locator("#question textarea")
    box.fill(question)
    box.press("Enter")
    page.wait_for_function(f"document.querySelectorAll({FINAL!r}).length > {before}",
                           timeout=TIMEOUT)
    return page.locator(FINAL).last


def upload(page, tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    page.locator("#upload input[type=file]").set_input_files(str(path))
    log = page.locator("#index-log")
    log.get_by_text("Index updated").wait_for(timeout=TIMEOUT)
    return log.inner_text()


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / name), full_page=True)


def test_seed_question_gets_a_cited_answer_with_the_span_highlighted(page):
    bubble = ask(page, "How many people died in the attack?")
    assert "133" in bubble.inner_text()
    link = bubble.locator("a.dc-cite").first
    assert link.inner_text() == "[1]"
    source = page.locator("#sources #src-1")
    assert "crocus-city-hall-attack.txt" in source.locator(".dc-src-head").inner_text()
    assert "133" in source.locator("mark.dc-mark").first.inner_text()
    assert "1 file" in page.locator("#status").inner_text()
    shot(page, "answer.png")
    link.click()
    page.wait_for_function("location.hash === '#src-1'")


def test_uploaded_file_is_answerable_at_once(page, tmp_path):
    log = upload(page, tmp_path, "vrana-notes.md", FACT)
    assert "vrana-notes.md" in log and "1 added" in log
    assert "2 files" in page.locator("#status").inner_text()
    bubble = ask(page, "What colour was the lighthouse on Vrana island painted?")
    assert "teal" in bubble.inner_text() and bubble.locator("a.dc-cite").count() >= 1
    cited = page.locator("#sources .dc-cited")
    assert "vrana-notes.md" in cited.first.locator(".dc-src-head").inner_text()
    assert "teal" in cited.first.locator("mark.dc-mark").first.inner_text()
    shot(page, "upload.png")


def test_corrupt_upload_is_listed_with_its_reason(page, tmp_path):
    log = upload(page, tmp_path, "scan.pdf", "%PDF-1.4 truncated, not a real PDF")
    assert "Skipped scan.pdf" in log
    reason = log.split("Skipped scan.pdf", 1)[1].strip(": \n")
    assert len(reason) > 5  # a reason, not just a name
    assert "skipped" in page.locator("#status").inner_text()
    page.reload()  # a page opened later still lists it (refreshed on load)
    expect(page.locator("#index-log")).to_contain_text("scan.pdf", timeout=TIMEOUT)
    expect(page.locator("#status")).to_contain_text("1 skipped", timeout=TIMEOUT)


def test_follow_up_uses_the_conversation_and_new_conversation_resets_it(page):
    first = ask(page, "How many people died in the Crocus City Hall attack?")
    assert "133" in first.inner_text()
    follow = ask(page, "Which group were they affiliated with?")
    assert "Islamic State" in follow.inner_text()
    page.locator("#new-chat").click()
    page.wait_for_function(f"document.querySelectorAll({FINAL!r}).length === 0")
    assert "appear here" in page.locator("#sources").inner_text()


def test_abstention_is_shown_as_such(page):
    bubble = ask(page, "What is the boiling point of water?")
    assert bubble.get_attribute("class") == "dc-abstain"
    assert CANNOT_ANSWER in bubble.inner_text()
    assert "Closest passages" in page.locator("#sources").inner_text()
    shot(page, "abstain.png")


def test_document_with_script_payload_is_shown_as_text_and_runs_nothing(page, tmp_path):
    upload(page, tmp_path, "festival-notes.md", XSS)
    bubble = ask(page, "When does the Zorblax festival take place?")
    assert "April" in bubble.inner_text()
    page.wait_for_timeout(1000)  # give any injected handler the chance to fire
    assert page.evaluate("window.__xss") is None
    assert page.dialogs == []
    panel = page.locator("#sources")
    for payload in ("<script>window.__xss = 1; alert('xss')</script>",
                    "<img src=x onerror=\"window.__xss = 2; alert('img')\">"):
        assert payload in panel.inner_text()  # shown literally, character for character
        assert payload in bubble.inner_text()
    assert panel.locator("script, img").count() == 0
    assert page.locator("#chat img[src=x], #chat script").count() == 0
    shot(page, "xss.png")
