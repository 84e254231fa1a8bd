"""The chat page in a real browser: Debian's Chromium driven by Playwright, against a real
`docchat serve` process. Screenshots go to build/screenshots/ (untracked); `make screenshots`
sets DOCCHAT_SCREENSHOTS=docs/screenshots to refresh the documented ones."""
from __future__ import annotations

import json
import os
import re
import shutil
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from rag.types import CANNOT_ANSWER
from server import ROOT, running_server

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync"]
SHOTS = Path(os.environ.get("DOCCHAT_SCREENSHOTS") or ROOT / "build" / "screenshots")
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
def served(tmp_path_factory):
    work = tmp_path_factory.mktemp("browser")
    with running_server(work) as (url, _):
        yield url, work


@pytest.fixture(scope="module")
def base(served):
    return served[0]


@pytest.fixture(scope="module")
def browser():
    path = chromium_path()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, args=ARGS)
        yield b
        b.close()


def open_page(browser, url: str, **context_options):
    context = browser.new_context(**{"viewport": {"width": 1400, "height": 1000},
                                     **context_options})
    pg = context.new_page()
    pg.dialogs = []
    pg.on("dialog", lambda d: (pg.dialogs.append(d.message), d.dismiss()))
    pg.goto(url)
    pg.wait_for_selector("#question textarea")
    return pg


@pytest.fixture
def page(browser, base):
    pg = open_page(browser, base)
    yield pg
    pg.context.close()


def ask(page, question: str):
    """Type a question, press Enter, wait for the finished bubble; returns its locator."""
    before = page.locator(FINAL).count()
    box = page.locator("#question textarea")
    box.fill(question)
    box.press("Enter")
    page.wait_for_function(f"document.querySelectorAll({FINAL!r}).length > {before}",
                           timeout=TIMEOUT)
    return page.locator(FINAL).nth(before)  # this answer's bubble, even after later ones


def upload(page, tmp_path: Path, name: str, text: str) -> str:
    page.wait_for_function("!document.querySelector('#question textarea').disabled",
                           timeout=TIMEOUT)  # the page has loaded (its load event is done)
    path = tmp_path / name
    path.write_text(text)
    page.locator("#upload input[type=file]").set_input_files(str(path))
    log = page.locator("#index-log")
    log.get_by_text("Index updated").wait_for(timeout=TIMEOUT)
    return log.inner_text()


def shot(page, name: str, full_page: bool = True) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / name), full_page=full_page)


def shot_of(locator, name: str) -> None:
    """A screenshot of one part of the page (e.g. the library panel)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    locator.scroll_into_view_if_needed()
    locator.screenshot(path=str(SHOTS / name))


def test_seed_question_gets_a_cited_answer_with_the_span_highlighted(page):
    bubble = ask(page, "How many people died in the attack?")
    assert "133" in bubble.inner_text()
    link = bubble.locator("a.dc-cite").first
    assert link.inner_text() == "[1]"
    source = page.locator("#sources #src-0-1")
    assert "crocus-city-hall-attack.txt" in source.locator(".dc-src-head").inner_text()
    assert "133" in source.locator("mark.dc-mark").first.inner_text()
    assert "1 file" in page.locator("#status").inner_text()
    # no "Use via API" (its snippet failed with 403); the header points to the HTTP API
    assert page.get_by_text("Use via API").count() == 0
    assert page.locator("#header a[href='/docs']").count() == 1
    shot(page, "answer.png")
    link.click()
    expect(page.locator("#sources #src-0-1")).to_have_class("dc-src dc-cited dc-focus")
    # a citation looks like a link, not bold text
    style = link.evaluate("a => [getComputedStyle(a).textDecorationLine, "
                          "getComputedStyle(a).fontWeight]")
    assert style[0] == "underline" and int(style[1]) < 600


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


def test_corrupt_upload_is_a_warning_with_its_reason_and_can_be_removed(page, tmp_path, served):
    log = upload(page, tmp_path, "scan.pdf", "%PDF-1.4 truncated, not a real PDF")
    assert "Saved and indexed" not in log  # it was not: say so
    assert "scan.pdf not indexed:" in log
    reason = log.split("scan.pdf not indexed:", 1)[1].split("(remove it")[0].strip()
    assert len(reason) > 5  # a reason, not just a name
    assert "skipped" in page.locator("#status").inner_text()
    page.reload()  # a page opened later still lists it (refreshed on load)
    expect(page.locator("#index-log")).to_contain_text("scan.pdf", timeout=TIMEOUT)
    expect(page.locator("#status")).to_contain_text("1 skipped", timeout=TIMEOUT)
    # the library lists it as skipped, with the reason; removing it deletes the upload
    row = page.locator("#library tr", has_text="scan.pdf")
    expect(row).to_contain_text("skipped: " + reason[:20], timeout=TIMEOUT)
    remove_from_library(page, "scan.pdf (skipped)")
    expect(page.locator("#library")).not_to_contain_text("scan.pdf", timeout=TIMEOUT)
    assert not (served[1] / "uploads" / "scan.pdf").exists()
    expect(page.locator("#status")).not_to_contain_text("skipped", timeout=TIMEOUT)
    # and a later upload's log does not repeat it
    assert "scan.pdf" not in upload(page, tmp_path, "pond-notes.md", "The pond has 4 ducks.")


def remove_from_library(page, label: str) -> None:
    page.locator("#lib-pick input").fill(label.split(" (")[0])
    page.get_by_role("option", name=label).click()
    page.locator("#lib-delete").click()
    confirm = page.locator("#lib-confirm")
    expect(confirm).to_be_visible()
    expect(page.locator("#lib-note")).to_contain_text("Remove")
    confirm.click()
    expect(page.locator("#lib-note")).to_contain_text("Removed", timeout=TIMEOUT)


def test_library_lists_filters_and_deletes_after_confirmation(page, tmp_path, served):
    upload(page, tmp_path, "lib-harbour.md", "# Harbour\n\nThe harbour crane lifts 40 tonnes.\n")
    table = page.locator("#library")
    expect(table).to_contain_text("lib-harbour.md")
    row = table.locator("tr", has_text="lib-harbour.md")
    cells = row.locator("td").all_inner_texts()
    assert cells[1] == "md" and cells[2] == "1" and int(cells[3]) >= 1 and cells[6] == "indexed"
    page.locator("#lib-filter textarea, #lib-filter input").first.fill("harbour")
    expect(table.locator("tbody tr")).to_have_count(1)
    assert "crocus" not in table.inner_text()
    # cancel first: nothing happens
    page.locator("#lib-pick input").fill("lib-harbour")
    page.get_by_role("option", name="lib-harbour.md (indexed)").click()
    page.locator("#lib-delete").click()
    page.locator("#lib-cancel").click()
    expect(page.locator("#lib-confirm")).to_be_hidden()
    assert (served[1] / "uploads" / "lib-harbour.md").exists()
    remove_from_library(page, "lib-harbour.md (indexed)")
    expect(table).to_contain_text("No documents match")
    assert not (served[1] / "uploads" / "lib-harbour.md").exists()
    bubble = ask(page, "How many tonnes does the harbour crane lift?")
    assert "lib-harbour.md" not in page.locator("#sources").inner_text()
    assert "40 tonnes" not in bubble.inner_text()


def test_follow_up_uses_the_conversation_and_new_conversation_resets_it(page):
    first = ask(page, "How many people died in the Crocus City Hall attack?")
    assert "133" in first.inner_text()
    follow = ask(page, "Which group were they affiliated with?")
    assert "Islamic State" in follow.inner_text()
    page.locator("#new-chat").click()
    page.wait_for_function(f"document.querySelectorAll({FINAL!r}).length === 0")
    assert "appear here" in page.locator("#sources").inner_text()


def test_conversation_actions_are_enabled_only_when_they_have_something_to_act_on(page):
    """Title, Rename, Delete and Regenerate do nothing without a conversation or a question:
    disabled on an empty chat, enabled once an answer is stored, disabled again by New."""
    actions = ["#conv-title input", "#conv-rename", "#conv-delete", "#regenerate"]
    page.wait_for_function("!document.querySelector('#question textarea').disabled")
    for sel in actions:
        expect(page.locator(sel)).to_be_disabled()
    ask(page, "How many people died in the Crocus City Hall attack?")
    for sel in actions:
        expect(page.locator(sel)).to_be_enabled(timeout=TIMEOUT)
    page.locator("#conv-title input").fill("   ")  # an empty name is refused, and said so
    page.locator("#conv-rename").click()
    expect(page.get_by_text("A conversation needs a name")).to_be_visible(timeout=TIMEOUT)
    page.locator("#new-chat").click()
    for sel in actions:
        expect(page.locator(sel)).to_be_disabled(timeout=TIMEOUT)


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


ATTACKER_PAGE = """<!doctype html><title>cute cats</title><script>
window.results = [];
async function attack(target) {
  const form = new FormData();
  form.append("files", new Blob(["<script>alert(1)</scr" + "ipt> The planted file."],
              {type: "text/html"}), "planted.html");
  for (const [method, path, body] of [["POST", "/api/documents", form],
                                      ["POST", "/gradio_api/upload", form],
                                      ["POST", "/api/ask", JSON.stringify({question: "x"})]]) {
    try { await fetch(target + path, {method, body, mode: "no-cors",
                                      credentials: "include"}); window.results.push("sent"); }
    catch (e) { window.results.push("error"); }
  }
}
</script>"""


class AttackerSite(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - http.server's name
        body = ATTACKER_PAGE.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_picking_a_document_limits_the_question_to_it_and_the_answer_says_so(page, tmp_path):
    """Issue 21: two reports on one subject; the "Search in" picker limits the next question
    to the chosen one, the answer names its scope, and its sources all come from it."""
    for year, workers in (("2023", "412"), ("2024", "388")):
        upload(page, tmp_path, f"mill-{year}.md", f"# Mill report {year}\n\nIn {year} the "
               f"Vantor paper mill employed {workers} workers.\n")
    picker = page.locator("#scope")
    picker.locator("input").click()
    page.get_by_role("option", name="mill-2023.md", exact=True).click()
    page.keyboard.press("Escape")
    bubble = ask(page, "How many workers did the Vantor paper mill employ?")
    text = bubble.inner_text()
    assert "412" in text and "388" not in text, text
    assert "Searched only: mill-2023.md" in text
    sources = page.locator("#sources").inner_text()
    assert "mill-2023.md" in sources and "mill-2024.md" not in sources
    shot(page, "scope.png")


def test_a_long_question_is_answered_or_refused_in_one_line_and_never_lost(page):
    """Issue 19, item 1: a 1,700-character question hung the page on "Checking each
    sentence..." and emptied the box; at 2,880 every panel turned into "Error"."""
    within = ("How many people died in the attack? " * 60)[:1990]
    t = time.monotonic()
    bubble = ask(page, within)
    assert "133" in bubble.inner_text() and time.monotonic() - t < 60
    too_long = ("How many people died in the attack? " * 80)[:2565]
    bubble = ask(page, too_long)
    text = bubble.inner_text()
    assert "2,564 characters long; the limit is 2,000" in text and len(text.splitlines()) <= 2
    assert page.locator("#question textarea").input_value() == too_long.strip()  # kept
    assert page.locator(".error, .toast-body").count() == 0  # no red "Error" panels


def test_summarise_from_the_library_and_from_the_chat_gives_cited_sentences(page):
    """Issue 22: the library's Summarise button, and "summarise <document>" typed in the
    chat, put a cited summary in the conversation; its citations open their passages."""
    page.locator("#lib-pick input").click()
    page.get_by_role("option", name=re.compile(r"^crocus-city-hall-attack\.txt")).click()
    page.locator("#lib-summarise").click()
    page.wait_for_selector("#chat .dc-answer .dc-scope", timeout=TIMEOUT)
    bubble = page.locator("#chat .dc-answer").last
    assert "Summary of: crocus-city-hall-attack.txt" in bubble.inner_text()
    assert "133" in bubble.inner_text() and bubble.locator("a.dc-cite").count() >= 3
    bubble.locator("a.dc-cite").first.click()
    expect(page.locator("#sources .dc-src.dc-cited mark.dc-mark").first).to_be_visible()
    typed = ask(page, "summarise crocus-city-hall-attack")
    assert "Summary of: crocus-city-hall-attack.txt" in typed.inner_text()
    assert page.locator("#question textarea").input_value() == ""


def test_on_a_phone_the_library_scrolls_sideways_and_long_words_wrap(browser, base, tmp_path):
    """Issue 19, item 8: on a phone the library hid its Indexed and Status columns, and very
    long words ran out of their boxes."""
    page = open_page(browser, base, viewport={"width": 390, "height": 844})
    try:
        word = "x" * 40 + "-Zorblaxian-identifier-" + "y" * 200
        upload(page, tmp_path, "long-word.md", f"# Long word\n\nThe long identifier "
               f"{word} names the Zorblaxian archive.\n")
        geometry = page.evaluate("""() => {
          const wrap = document.querySelector(".dc-lib-wrap");
          const last = [...wrap.querySelectorAll("th")].pop();
          return {overflow: getComputedStyle(wrap).overflowX, scroll: wrap.scrollWidth,
                  reach: last.getBoundingClientRect().right - wrap.getBoundingClientRect().left,
                  text: last.textContent}; }""")
        assert geometry["text"] == "Status" and geometry["overflow"] in ("auto", "scroll")
        assert geometry["scroll"] >= geometry["reach"] - 1, geometry
        bubble = ask(page, "What does the long identifier name?")
        fits = bubble.evaluate("(b) => b.scrollWidth <= b.clientWidth + 1")
        assert "Zorblaxian archive" in bubble.inner_text() and fits
    finally:
        page.context.close()


def test_on_a_phone_the_question_box_has_the_width_and_the_examples_are_on_the_first_screen(
        browser, base):
    """Issue 19, item 8: on a phone the question box was squeezed beside Ask and Stop (two
    lines of 15 characters) and the example questions were below the first screen."""
    page = open_page(browser, base, viewport={"width": 390, "height": 844}, is_mobile=True,
                     has_touch=True)
    try:
        expect(page.locator("#examples button:visible").first).to_be_visible(timeout=TIMEOUT)
        chat, q, ask_b, stop_b = (page.locator(s).bounding_box()
                                  for s in ("#chat", "#question", "#ask", "#stop"))
        assert q["width"] >= 0.9 * chat["width"], (q, chat)  # the box has the chat's width
        for b in (ask_b, stop_b):  # Ask and Stop under it, inside the chat's column
            assert b["y"] >= q["y"] + q["height"] - 1 and b["x"] >= chat["x"] - 1
            assert b["x"] + b["width"] <= chat["x"] + chat["width"] + 1, (b, chat)
        examples = [b.bounding_box() for b in page.locator("#examples button:visible").all()]
        assert examples and all(e["y"] + e["height"] <= 844 for e in examples), examples
        shot(page, "phone-empty.png", full_page=False)
    finally:
        page.context.close()


def test_at_900_px_the_conversation_delete_confirmation_shows_where_delete_was(browser, base):
    """Issue 19, item 8: the confirmation appeared under Delete, so with Delete at the bottom
    of a 900 x 700 window it landed below the fold and clicking Delete seemed to do nothing."""
    for i in range(6):  # a list long enough to put Delete under the first screen
        httpx.post(f"{base}/api/conversations", json={"title": f"Earlier talk {i}"},
                   timeout=30).raise_for_status()
    page = open_page(browser, base, viewport={"width": 900, "height": 700})
    try:
        ask(page, "How many people died in the attack?")  # a stored conversation, open
        delete = page.locator("#conv-delete")
        expect(delete).to_be_enabled(timeout=TIMEOUT)
        # the user scrolls just far enough to see Delete: it is at the bottom of the window
        delete.evaluate("(d) => d.scrollIntoView({block: 'end'})")
        box = delete.bounding_box()
        assert 650 <= box["y"] + box["height"] <= 701, box
        page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        for button in ("#conv-confirm", "#conv-cancel"):
            expect(page.locator(button)).to_be_visible()
            b = page.locator(button).bounding_box()
            assert b["y"] >= 0 and b["y"] + b["height"] <= 701, (button, b)
        expect(delete).to_be_hidden()  # the confirmation takes its place
        page.locator("#conv-cancel").click()
        expect(delete).to_be_visible()
        expect(page.locator("#conv-confirm")).to_have_count(0)
    finally:
        page.context.close()


def test_an_upload_of_a_wrong_file_type_is_refused_in_one_toast(page, tmp_path, served):
    """Issue 19, item 8 (it already worked with Gradio 6.31): the "Invalid file type" toast
    was shown twice."""
    path = tmp_path / "tool.exe"
    path.write_bytes(b"MZ not a document")
    page.locator("#upload input[type=file]").set_input_files(str(path))
    toast = page.locator(".toast-body")
    expect(toast.first).to_contain_text("Invalid file type: tool.exe", timeout=TIMEOUT)
    page.wait_for_timeout(1500)  # a second toast would have come by now
    assert toast.count() == 1 and "(2)" not in toast.inner_text()  # Gradio counts repeats
    assert not (served[1] / "uploads" / "tool.exe").exists()


#: a 300-character word with no break in it (a hash, a URL, an identifier)
LONG_WORD = "Q" * 40 + "-Kestrelvault-" + "w" * 246


def text_beyond_its_box(page, word: str) -> list:
    """Every element the word's text runs out of: a text node wider than its element, or an
    element that clips or scrolls it sideways."""
    return page.evaluate("""(word) => [...document.querySelectorAll("body *")].filter((e) => {
        const r = e.getBoundingClientRect();
        if (!r.width || !e.textContent.includes(word)) return false;
        const clipped = getComputedStyle(e).overflowX !== "visible" &&
            e.scrollWidth > e.clientWidth + 1;
        const spills = [...e.childNodes].some((n) => {
            if (n.nodeType !== 3 || !n.textContent.includes(word)) return false;
            const range = document.createRange();
            range.selectNodeContents(n);
            return range.getBoundingClientRect().right > r.right + 1; });
        return clipped || spills;
      }).map((e) => e.id || e.className || e.tagName)""", word[:30])  # in a cut title too


@pytest.mark.parametrize("size", [(1400, 900), (390, 844)])
def test_a_300_character_word_wraps_in_every_box(browser, base, tmp_path, size):
    """Issue 19, item 8: a very long word in a question ran out of the conversation list and
    the Sources panel's "for:" line (answers, passages and the library already wrapped)."""
    page = open_page(browser, base, viewport={"width": size[0], "height": size[1]})
    try:
        if "long-word-300.md" not in page.locator(".dc-lib").first.inner_text():
            upload(page, tmp_path, "long-word-300.md", f"# Vault\n\nThe identifier "
                   f"{LONG_WORD} names the Kestrel vault.\n")
        bubble = ask(page, f"What does {LONG_WORD} name?")
        assert "Kestrel vault" in bubble.inner_text()
        expect(page.locator("#conv-list")).to_contain_text(LONG_WORD[:30])
        assert text_beyond_its_box(page, LONG_WORD) == []
        shot(page, f"long-word-{size[0]}.png")
    finally:
        page.context.close()


def test_a_10000_turn_conversation_opens_quickly_with_its_latest_turns(page, served):
    """Issue 20, item 11: a 10,000-turn conversation took 213 s and 1.17 GB of browser
    memory to open, then froze the page. It opens with its latest turns and says how many
    older ones are in the download; its citations still open their sources."""
    import json as json_mod
    import sqlite3

    from rag.conversations import FILE, Conversations
    from rag.types import Answer, Sentence, Source

    work = served[1]

    def turn(i: int) -> Answer:
        fact = f"Gauge {i} read {i % 97} centimetres at the Pellworm tide station."
        src = Source(n=1, path="/docs/tides.md", page=1, start=0, end=len(fact), text=fact,
                     score=0.9, highlights=((0, len(fact)),))
        return Answer(question=f"What did gauge {i} read?", answer=f"{fact} [1]",
                      abstained=False, sentences=(Sentence(fact, (1,)),), sources=(src,))
    store = Conversations(work / "data")
    conv = store.add("", None, "What did gauge 0 read?", turn(0))
    store.rename("", conv, "Ten thousand tides")
    db = sqlite3.connect(work / "data" / FILE)
    with db:
        db.executemany("INSERT INTO turns VALUES (?, ?, ?, ?)", (
            (conv, n, f"What did gauge {n} read?", json_mod.dumps(turn(n).to_dict()))
            for n in range(1, 10_000)))
    db.close()
    page.reload()
    page.wait_for_selector("#question textarea")
    t = time.monotonic()
    page.locator("#conv-list").get_by_text("Ten thousand tides").click()
    expect(page.locator("#chat .dc-older")).to_contain_text("9,950 older turns",
                                                            timeout=TIMEOUT)
    expect(page.locator("#chat .dc-answer").last).to_contain_text("Gauge 9999 read")
    seconds = time.monotonic() - t
    assert seconds < 30, seconds
    assert page.locator("#chat .dc-answer").count() == 50
    page.locator("#chat .dc-answer").last.locator("a.dc-cite").first.click()
    expect(page.locator("#sources .dc-src.dc-cited").last).to_contain_text("Gauge 9999")
    ask(page, "How many people died in the attack?")  # the conversation goes on
    assert page.locator("#chat .dc-answer").count() == 51


def test_another_site_cannot_make_the_browser_upload_a_file(browser, served):
    """Issue 20, item 5: a page on another origin POSTs a multipart upload (no preflight
    needed) with the user's browser; docchat refuses it by its Origin and stores nothing."""
    base, work = served
    site = ThreadingHTTPServer(("127.0.0.1", 0), AttackerSite)
    threading.Thread(target=site.serve_forever, daemon=True).start()
    before = sorted(p.name for p in (work / "uploads").glob("*")) \
        if (work / "uploads").is_dir() else []
    context = browser.new_context()
    try:
        pg = context.new_page()
        pg.goto(f"http://localhost:{site.server_address[1]}/")
        pg.evaluate(f"attack({base!r})")
        assert pg.evaluate("window.results") == ["sent"] * 3  # the browser did send them
        time.sleep(1)
        after = sorted(p.name for p in (work / "uploads").glob("*")) \
            if (work / "uploads").is_dir() else []
        assert after == before and "planted.html" not in json.dumps(
            [d["name"] for d in __import__("httpx").get(f"{base}/api/documents").json()])
    finally:
        context.close()
        site.shutdown()


def test_an_older_answers_citation_opens_that_answers_source(page, tmp_path):
    upload(page, tmp_path, "vrana-notes.md", FACT)
    first = ask(page, "How many people died in the attack?")
    ask(page, "What colour was the lighthouse on Vrana island painted?")
    panel = page.locator("#sources")
    expect(panel.locator(".dc-turn").last).to_contain_text("teal")  # the latest is shown
    first.locator("a.dc-cite").first.click()
    shown = panel.locator(".dc-src.dc-focus")
    expect(shown).to_be_visible()
    assert shown.get_attribute("id") == "src-0-1"
    assert "133" in shown.locator("mark.dc-mark").first.inner_text()
    assert "vrana" not in shown.inner_text().lower()
    expect(panel.locator(".dc-turn").last).to_be_hidden()  # the newest answer's sources


CONTRAST = """(selectors) => {
  const parse = (c) => {
    const m = c.match(/^rgba?\\(([^)]*)\\)$/);
    if (!m) return null;
    const p = m[1].split(/[\\s,\\/]+/).filter(Boolean).map(Number);
    return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
  };
  const background = (el) => {
    const layers = [];
    for (let e = el; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c === null) return null;
      if (c[3] > 0) { layers.push(c); if (c[3] >= 1) break; }
    }
    let out = [255, 255, 255];
    for (const [r, g, b, a] of layers.reverse()) out = [r * a + out[0] * (1 - a),
      g * a + out[1] * (1 - a), b * a + out[2] * (1 - a)];
    return out;
  };
  const lum = ([r, g, b]) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  return selectors.map((sel) => {
    const el = [...document.querySelectorAll(sel)].find((e) => e.offsetParent !== null);
    if (!el) return [sel, null, "missing"];
    const fg = parse(getComputedStyle(el).color), bg = background(el);
    if (!fg || !bg) return [sel, null, getComputedStyle(el).color];
    const [hi, lo] = [lum(fg.slice(0, 3)), lum(bg)].sort((a, b) => b - a);
    return [sel, (hi + 0.05) / (lo + 0.05), `${fg} on ${bg}`];
  });
}"""
CHECKED = [".dc-answer", ".dc-cite", ".dc-abstain", ".dc-error", ".dc-mark", ".dc-src-head",
           ".dc-passage", ".dc-for", ".dc-n"]


@pytest.mark.parametrize("theme", ["light", "dark", "system-dark"])
def test_text_meets_wcag_aa_contrast_and_an_error_keeps_the_question(browser, base, theme):
    if theme == "system-dark":  # no ?__theme: the browser's own setting decides
        page = open_page(browser, base, color_scheme="dark")
    else:
        page = open_page(browser, f"{base}/?__theme={theme}", color_scheme="light")
    try:
        assert page.evaluate("document.body.classList.contains('dark')") == (theme != "light")
        ask(page, "What is the boiling point of water?")  # an abstention
        ask(page, "How many people died in the attack?")  # a cited answer
        page.get_by_text("Settings", exact=True).click()
        page.get_by_label("openai", exact=True).check()  # nothing listens there: an error
        question = "How many people were injured in the attack?"
        bubble = ask(page, question)
        assert "dc-error" in bubble.get_attribute("class")
        assert page.locator("#question textarea").input_value() == question
        results = page.evaluate(CONTRAST, CHECKED)
        low = [r for r in results if r[1] is None or r[1] < 4.5]
        assert low == [], low
        if theme != "system-dark":
            shot(page, f"page-{theme}.png")
    finally:
        page.context.close()


def test_copy_buttons_copy_plain_text_with_markers_and_sources(browser, base):
    page = open_page(browser, base, permissions=["clipboard-read", "clipboard-write"])
    try:
        bubble = ask(page, "How many people died in the attack?")
        bubble.hover()
        page.locator("#chat button[aria-label='Copy message']").last.click()
        text = page.evaluate("navigator.clipboard.readText()")
        assert "133" in text and "[1]" in text
        for markup in ('class="dc-', "<div", "<span", "<a ", "&#"):
            assert markup not in text
        assert "Sources:\n[1] crocus-city-hall-attack.txt, page 1:" in text
        page.locator("#chat button[aria-label='Copy conversation']").first.click()
        everything = page.evaluate("navigator.clipboard.readText()")
        assert "How many people died in the attack?" in everything
        assert "133" in everything and "Sources:" in everything and "&#" not in everything
    finally:
        page.context.close()


def test_api_docs_render_with_no_network(browser, base):
    context = browser.new_context()
    outside = []

    def only_local(route):
        if route.request.url.startswith(base):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()
    context.route("**/*", only_local)
    page = context.new_page()
    try:
        page.goto(f"{base}/docs")
        expect(page.locator(".swagger-ui .info .title")).to_contain_text("docchat",
                                                                         timeout=TIMEOUT)
        expect(page.locator(".opblock-summary-path", has_text="/api/ask")).to_be_visible()
        expect(page.locator(".swagger-ui")).not_to_contain_text("Authorize")
        assert outside == []
    finally:
        context.close()


LONG_NOTES = "# Harbour log\n\n" + "\n\n".join(
    f"Entry {i}: the harbour crane number {i} lifted {i * 7} containers of timber on the "
    f"night shift, and the harbour master wrote that crane {i} needed new cables, a new "
    f"brake and a fresh coat of paint before the winter storms reached the harbour." * 2
    for i in range(1, 9)) + "\n"


def panel_fits(page) -> dict:
    """Where the Sources panel and its passages are, and what lies under it."""
    return page.evaluate("""() => {
      const panel = document.getElementById("sources");
      const r = panel.getBoundingClientRect();
      const docs = [...document.querySelectorAll("button, span, div")].find(
          (e) => e.textContent.trim() === "Documents" && e.getBoundingClientRect().top > r.top);
      const scroller = [panel, ...panel.querySelectorAll("*")].find((e) => {
          const o = getComputedStyle(e).overflowY;
          return (o === "auto" || o === "scroll") && e.scrollHeight > e.clientHeight + 1; });
      const srcs = [...panel.querySelectorAll(".dc-turn:last-child .dc-src")];
      return {bottom: r.bottom, docsTop: docs ? docs.getBoundingClientRect().top : null,
              n: srcs.length, scrollable: !!scroller,
              lastBottom: srcs.length ? srcs[srcs.length - 1].getBoundingClientRect().bottom : 0};
    }""")


@pytest.mark.parametrize("size", [(1400, 900), (390, 844)])
def test_the_sources_panel_stays_in_its_place_and_every_source_can_be_reached(
        browser, base, tmp_path, size):
    """Issue 19, item 2: sources 4-5 disappeared behind the Documents box and could not be
    scrolled to; on a phone the passages were drawn through the conversation list."""
    page = open_page(browser, base, viewport={"width": size[0], "height": size[1]})
    try:
        if "harbour-log.md" not in page.locator("#lib-table, .dc-lib").first.inner_text():
            upload(page, tmp_path, "harbour-log.md", LONG_NOTES)
        ask(page, "What did the harbour master write about the cranes?")
        fit = panel_fits(page)
        assert fit["n"] >= 4, fit
        assert fit["docsTop"] is None or fit["bottom"] <= fit["docsTop"] + 1, fit
        if fit["lastBottom"] > fit["bottom"] + 1:  # the panel is shorter than its passages:
            assert fit["scrollable"], fit  # then it scrolls, inside its own box
        shot(page, f"sources-{size[0]}.png")
    finally:
        page.context.close()


def test_phone_width_citation_opens_an_overlay_without_moving_the_chat(browser, base):
    page = open_page(browser, base, viewport={"width": 390, "height": 844}, is_mobile=True,
                     has_touch=True)
    try:
        bubble = ask(page, "How many people died in the attack?")
        link = bubble.locator("a.dc-cite").first
        link.scroll_into_view_if_needed()
        before = page.evaluate("window.scrollY")
        link.tap()
        overlay = page.locator(".dc-src.dc-overlay")
        expect(overlay).to_be_visible()
        assert page.evaluate("window.scrollY") == before
        box = overlay.bounding_box()
        assert box["y"] >= 0 and box["y"] + 40 < 844  # on screen, where the reader is
        assert "133" in overlay.locator("mark.dc-mark").first.inner_text()
        shot(page, "phone.png", full_page=False)  # a full-page shot would scroll
        overlay.locator(".dc-close").tap()
        expect(page.locator(".dc-src.dc-overlay")).to_have_count(0)
        assert page.evaluate("window.scrollY") == before
    finally:
        page.context.close()


class SlowLLM(BaseHTTPRequestHandler):
    """A stand-in for an OpenAI-compatible server (none can run here in a test): streams one
    word every 0.3 s for a minute and records whether the client hung up."""

    hung_up = threading.Event()
    started = threading.Event()

    def do_POST(self):  # noqa: N802
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.end_headers()
        SlowLLM.started.set()
        try:
            for i in range(200):
                chunk = {"choices": [{"delta": {"content": f"word{i} "}}]}
                self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                self.wfile.flush()
                time.sleep(0.3)
        except (BrokenPipeError, ConnectionResetError):
            SlowLLM.hung_up.set()

    def log_message(self, *args):
        pass


def test_stop_ends_the_generation_and_regenerate_asks_again(page):
    llm = ThreadingHTTPServer(("127.0.0.1", 0), SlowLLM)
    threading.Thread(target=llm.serve_forever, daemon=True).start()
    try:
        page.get_by_text("Settings", exact=True).click()
        page.get_by_label("openai", exact=True).check()
        page.get_by_label("OpenAI-compatible base URL").fill(
            f"http://127.0.0.1:{llm.server_address[1]}/v1")
        page.get_by_label("Model (empty: the server's first)").fill("slow")
        expect(page.locator("#stop")).to_be_disabled()  # nothing is being answered yet
        box = page.locator("#question textarea")
        box.fill("How many people died in the attack?")
        box.press("Enter")
        expect(page.locator("#chat .dc-draft").last).to_contain_text("word3", timeout=TIMEOUT)
        expect(page.locator("#stop")).to_be_enabled()
        page.locator("#stop").click()
        expect(page.locator("#chat .dc-stopped")).to_be_visible(timeout=TIMEOUT)
        expect(page.locator("#stop")).to_be_disabled()  # nothing to stop any more
        assert SlowLLM.hung_up.wait(15), "the engine kept generating after Stop"
        shown = page.locator("#chat .dc-draft").last.inner_text()
        page.wait_for_timeout(1500)
        assert page.locator("#chat .dc-draft").last.inner_text() == shown  # nothing more
        # Regenerate with the extractive engine: the same question, answered, asked once
        page.get_by_label("extractive", exact=True).check()
        page.locator("#regenerate").click()
        page.wait_for_selector("#chat .dc-answer", timeout=TIMEOUT)
        assert "133" in page.locator("#chat .dc-answer").last.inner_text()
        expect(page.locator("#stop")).to_be_disabled()  # the answer is complete
        users = page.locator("#chat .user").all_inner_texts()
        assert [u.strip() for u in users] == ["How many people died in the attack?"]
    finally:
        llm.shutdown()


def test_conversation_survives_reload_and_restart_and_old_citations_still_open(
        browser, served, tmp_path):
    shutil.copytree(served[1] / "index", tmp_path / "index")  # no rebuild: start faster
    with running_server(tmp_path) as (url, _):
        page = open_page(browser, url)
        first = ask(page, "How many people died in the attack?")
        assert "133" in first.inner_text()
        ask(page, "Where were the gunmen trying to flee to?")
        listing = page.locator("#conv-list")
        expect(listing).to_contain_text("How many people died in the attack?")
        page.reload()
        page.wait_for_selector("#question textarea")
        expect(page.locator(FINAL)).to_have_count(2, timeout=TIMEOUT)  # reopened by itself
        page.locator("#conv-title input, #conv-title textarea").first.fill("Crocus questions")
        page.locator("#conv-rename").click()
        expect(listing).to_contain_text("Crocus questions")
        page.locator("#new-chat").click()
        expect(page.locator(FINAL)).to_have_count(0)
        ask(page, "Which group were the attackers affiliated with?")
        labels = listing.locator("label").all_inner_texts()
        assert labels[0].startswith("Which group") and labels[1] == "Crocus questions"
        page.context.close()
    with running_server(tmp_path) as (url, _):  # a restart (on another port: new storage)
        page = open_page(browser, url)
        listing = page.locator("#conv-list")
        expect(listing).to_contain_text("Crocus questions", timeout=TIMEOUT)
        listing.get_by_text("Crocus questions").click()
        expect(page.locator(FINAL)).to_have_count(2, timeout=TIMEOUT)
        old = page.locator(FINAL).first
        assert "133" in old.inner_text()
        old.locator("a.dc-cite").first.click()
        shown = page.locator("#sources .dc-src.dc-focus")
        expect(shown).to_be_visible()
        assert "133" in shown.locator("mark.dc-mark").first.inner_text()
        # delete it, confirmed
        page.locator("#conv-delete").click()
        page.locator("#conv-confirm").click()
        expect(listing).not_to_contain_text("Crocus questions")
        expect(page.locator(FINAL)).to_have_count(0)
        page.context.close()


def test_an_empty_chat_offers_example_questions_from_the_documents(page):
    examples = page.locator("#examples button:visible")
    expect(examples.first).to_be_visible(timeout=TIMEOUT)
    texts = examples.all_inner_texts()
    assert 1 <= len(texts) <= 3
    names = page.locator("#library tbody tr td:first-child").all_inner_texts()
    # issue 19, item 7: a question a person would ask about a section, checked to be
    # answered from its document before it is offered, or a summary; never a quote
    assert all(re.fullmatch(r"What does .+ say about .+\?", t) or
               any(t == f"Summarise {n}" for n in names) for t in texts), texts
    assert not any('"' in t for t in texts)
    for i in range(len(texts)):
        if i:
            page.locator("#new-chat").click()
            expect(examples.nth(i)).to_be_visible(timeout=TIMEOUT)
        examples.nth(i).click()
        page.wait_for_selector(FINAL, timeout=TIMEOUT)
        assert page.locator("#chat .user").first.inner_text().strip() == texts[i]
        assert page.locator("#chat .dc-abstain, #chat .dc-error").count() == 0, texts[i]
        expect(page.locator("#examples")).to_be_hidden()


def test_a_pdf_source_links_the_original_page_and_shows_the_page_image(page, tmp_path, base):
    from conftest import make_pdf

    path = tmp_path / "canals.pdf"
    path.write_bytes(make_pdf(["Intro page.", "The Elbe canal lock lifts boats 38 metres."]))
    page.locator("#upload input[type=file]").set_input_files(str(path))
    page.locator("#index-log").get_by_text("Index updated").wait_for(timeout=TIMEOUT)
    ask(page, "How many metres does the Elbe canal lock lift boats?")
    cited = page.locator("#sources .dc-turn").last.locator(".dc-cited").first
    assert "canals.pdf" in cited.locator(".dc-src-head").inner_text()
    link = cited.locator(".dc-pdf a")
    href = link.get_attribute("href")
    assert href.startswith("/api/documents/") and href.endswith("/file#page=2")
    assert page.request.get(base + href.split("#")[0]).body() == path.read_bytes()
    cited.locator("summary").click()
    img = cited.locator("img.dc-page")
    expect(img).to_be_visible()
    page.wait_for_function("img => img.complete && img.naturalWidth > 300", arg=img.element_handle(),
                           timeout=TIMEOUT)


def pick_document(page, label: str) -> None:
    page.locator("#lib-pick").scroll_into_view_if_needed()  # its options open below it
    page.locator("#lib-pick input").fill(label.split(" (")[0])
    page.get_by_role("option", name=label).click()


def test_library_reindexes_one_document_and_includes_an_excluded_one_again(page, served,
                                                                          browser):
    from conftest import clean_env, docchat

    own = served[1] / "own-folder"
    own.mkdir()
    old_ns = 1_600_000_000 * 10**9  # an old mtime: the size/mtime check trusts it
    depot = own / "tram-depot.md"
    depot.write_text("The Brno tram depot keeps 77 trams in its north hall.\n")
    os.utime(depot, ns=(old_ns, old_ns))
    done = docchat("index", "--index", served[1] / "index", "--add", own, env=clean_env())
    assert done.returncode in (0, 3), done.stderr  # 3: an earlier test's skipped upload
    page.reload()
    table = page.locator("#library")
    row = table.locator("tr", has_text="tram-depot.md")
    expect(row).to_contain_text("indexed", timeout=TIMEOUT)
    expect(page.locator("#lib-reindex")).to_be_disabled()  # nothing chosen yet
    # changed on disk with the same size and mtime: the folder watcher cannot see it
    depot.write_text("The Brno tram depot keeps 93 trams in its south hall.\n")
    os.utime(depot, ns=(old_ns, old_ns))
    pick_document(page, "tram-depot.md (indexed)")
    expect(page.locator("#lib-include")).to_be_disabled()  # it is not excluded
    page.locator("#lib-reindex").click()
    note = page.locator("#lib-note")
    expect(note).to_contain_text("Re-indexed tram-depot.md: its content had changed",
                                 timeout=TIMEOUT)
    assert "93 trams" in ask(page, "How many trams does the Brno tram depot keep?").inner_text()
    page.locator("#lib-reindex").click()  # again: unchanged now, nothing embedded
    expect(note).to_contain_text("unchanged, so nothing was re-embedded", timeout=TIMEOUT)

    # removed from the index: the file stays in its folder, listed as excluded
    remove_from_library(page, "tram-depot.md (indexed)")
    assert depot.is_file()
    for action in ("#lib-reindex", "#lib-delete", "#lib-include"):  # nothing chosen now
        expect(page.locator(action)).to_be_disabled()
    expect(row).to_contain_text("excluded: left out of the index by you", timeout=TIMEOUT)
    pick_document(page, "tram-depot.md (excluded)")
    expect(page.locator("#lib-reindex")).to_be_disabled()
    expect(page.locator("#lib-delete")).to_be_disabled()
    shot_of(page.locator("#library-panel"), "library.png")
    dark = open_page(browser, f"{served[0]}/?__theme=dark")
    try:
        pick_document(dark, "tram-depot.md (excluded)")
        expect(dark.locator("#lib-include")).to_be_enabled()
        shot_of(dark.locator("#library-panel"), "library-dark.png")
    finally:
        dark.context.close()
    page.locator("#lib-include").click()
    expect(note).to_contain_text("tram-depot.md is back in the index", timeout=TIMEOUT)
    expect(row).not_to_contain_text("excluded")
    expect(row.locator("td").nth(6)).to_have_text("indexed")
    assert "93 trams" in ask(page, "How many trams does the Brno tram depot keep?").inner_text()


WATCH_BUBBLES = """() => {
  window.__seen = [];
  const note = () => {
    const bots = document.querySelectorAll('#chat .bot, #chat [data-testid="bot"]');
    const last = bots[bots.length - 1];
    if (!last) return;
    const kind = last.querySelector('.dc-answer, .dc-abstain, .dc-error, .dc-draft');
    const entry = (kind ? kind.className.split(' ')[0] : 'other') + ': ' + last.innerText;
    if (window.__seen[window.__seen.length - 1] !== entry) window.__seen.push(entry);
  };
  new MutationObserver(note).observe(document.querySelector('#chat'),
                                     {subtree: true, childList: true, characterData: true});
}"""


def test_an_answer_shows_its_progress_thinned_then_the_api_answer(page, base):
    """The bubble says at once that the documents are being searched, then shows at most
    one update every UPDATE_EVERY_S (issue 19 item 12: the extractive engine's draft and
    "Checking..." step came a millisecond before its answer and each update sent cost about
    40 ms of the answer's time), and ends as the same answer the non-streamed API gives. An
    LLM's draft streaming into the bubble: test_stop_ends_the_generation_and_regenerate..."""
    import httpx

    from ui.page_context import UPDATE_EVERY_S

    question = "Who claimed responsibility for the attack?"
    api = httpx.post(f"{base}/api/ask", json={"question": question}, timeout=120).json()
    assert len(api["sentences"]) >= 2  # a list answer: several sentences
    page.evaluate(WATCH_BUBBLES)
    t = time.monotonic()
    bubble = ask(page, question)
    took = time.monotonic() - t
    seen = page.evaluate("window.__seen")
    drafts = [s for s in seen if s.startswith("dc-draft")]
    assert drafts and "Searching the documents" in drafts[0], seen
    assert len(drafts) <= 1 + took / UPDATE_EVERY_S, (took, seen)  # thinned
    assert not any(re.search(r"\[\d+\]", s) for s in drafts), seen  # ranks, not sources
    final = [s for s in seen if s.startswith("dc-answer")]
    assert final and seen.index(final[0]) > seen.index(drafts[-1])  # drafts came first
    shown = [" ".join(t.split()) for t in bubble.locator(".dc-sent").all_inner_texts()]
    assert shown == [f"{s['text']} " + " ".join(f"[{n}]" for n in s["citations"])
                     for s in api["sentences"]]


GATED_MODEL = '''# Test hook (tests/e2e, written to a temp folder): the embedding model's load in
# the server's background preload waits until the file DOCCHAT_TEST_MODEL_GATE exists, so a test
# can ask its first question while the model is still "loading".
import os, threading, time
import rag.embedding.local as _e

_init = _e.Embedder.__init__

def _gated(self, *args, **kwargs):
    gate = os.environ.get("DOCCHAT_TEST_MODEL_GATE")
    if gate and threading.current_thread().name == "docchat-preload":
        deadline = time.monotonic() + 300
        while not os.path.exists(gate) and time.monotonic() < deadline:
            time.sleep(0.1)
    _init(self, *args, **kwargs)

_e.Embedder.__init__ = _gated
'''


def test_a_cold_start_says_the_model_is_loading_then_answers(browser, tmp_path):
    """A question asked while the embedding model is still loading shows "Loading the
    model…" (not a bare "…"), then its answer. The load is held back by a start-up hook
    (sitecustomize in a temp folder): a real load takes a few seconds only and would race."""
    from conftest import clean_env, docchat

    done = docchat("index", "--index", tmp_path / "index", ROOT / "seeds", env=clean_env())
    assert done.returncode == 0, done.stderr
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(GATED_MODEL)
    gate = tmp_path / "model-may-load"
    env = {"PYTHONPATH": os.pathsep.join([str(hook), str(ROOT)]),
           "DOCCHAT_TEST_MODEL_GATE": str(gate)}
    with running_server(tmp_path, env=env) as (url, _):
        page = open_page(browser, url)
        try:
            box = page.locator("#question textarea")
            box.fill("How many people died in the attack?")
            box.press("Enter")
            bubble = page.locator("#chat .dc-draft").last
            expect(bubble).to_contain_text("Loading the model…", timeout=TIMEOUT)
            time.sleep(1)  # still loading: nothing else happens until the model is there
            expect(bubble).to_contain_text("Loading the model…")
            assert page.locator(FINAL).count() == 0
            gate.touch()
            page.wait_for_selector(FINAL, timeout=TIMEOUT)
            assert "133" in page.locator(FINAL).last.inner_text()
            page.evaluate(WATCH_BUBBLES)
            ask(page, "Who claimed responsibility for the attack?")
            seen = page.evaluate("window.__seen")  # the model is loaded now: no loading note
            assert any("Searching the documents" in s for s in seen), seen
            assert not any("Loading the model" in s for s in seen), seen
        finally:
            page.context.close()


def test_the_question_box_has_the_width_and_a_phone_shows_the_chat_first(browser, base):
    page = open_page(browser, base)
    try:
        box = page.locator("#question").bounding_box()
        ask_btn = page.locator("#ask").bounding_box()
        assert box["width"] > 2.5 * ask_btn["width"]  # it was narrower than two buttons
    finally:
        page.context.close()
    page = open_page(browser, base, viewport={"width": 390, "height": 844}, is_mobile=True,
                     has_touch=True)
    try:
        chat, convs = (page.locator(s).bounding_box() for s in ("#chat", "#conversations"))
        assert chat["y"] < convs["y"]  # the chat first; the list of conversations after it
        assert chat["y"] < 844  # the chat starts on the first screen
        q, ask_b, stop_b = (page.locator(s).bounding_box() for s in ("#question", "#ask", "#stop"))
        # Ask and Stop on one line (Stop used to wrap under Ask), both inside the screen
        assert abs(ask_b["y"] - stop_b["y"]) < 4 and stop_b["x"] > ask_b["x"]
        assert stop_b["x"] + stop_b["width"] <= 390 and q["width"] >= 150
    finally:
        page.context.close()


def test_thumbs_down_asks_why_and_the_conversation_downloads_as_markdown(page):
    """Issue 22: a thumb down on an answer opens the reason panel; the saved reason and note
    are in the Markdown the page downloads, with the question, the [1] and the source path."""
    downloads = ["#conv-download-md", "#conv-download-json"]
    page.wait_for_function("!document.querySelector('#question textarea').disabled")
    for sel in downloads:
        expect(page.locator(sel)).to_be_disabled()  # no conversation open yet
    question = "How many people died in the attack?"
    bubble = ask(page, question)
    assert "133" in bubble.inner_text()
    for sel in downloads:
        expect(page.locator(sel)).to_be_enabled(timeout=TIMEOUT)
    expect(page.locator("#feedback-panel")).to_be_hidden()
    page.locator("#chat").get_by_role("button", name="Dislike").last.click()
    panel = page.locator("#feedback-panel")
    expect(panel).to_be_visible(timeout=TIMEOUT)
    expect(page.locator("#feedback-status")).to_contain_text("rated down")
    panel.get_by_label("It cites the wrong source").check()
    panel.locator("#feedback-note textarea").fill("The toll is in another paragraph.")
    panel.locator("#feedback-save").click()
    expect(page.locator("#feedback-status")).to_contain_text("saved", timeout=TIMEOUT)
    expect(panel).to_be_hidden()
    page.wait_for_timeout(500)  # the download buttons take the rated conversation
    with page.expect_download(timeout=TIMEOUT) as download:
        page.locator("#conv-download-md").click()
    got = download.value
    assert got.suggested_filename == "docchat-how-many-people-died-in-the-attack.md"
    text = Path(got.path()).read_text(encoding="utf-8")
    assert text.startswith(f"# {question}\n") and f"## 1. {question}" in text
    assert "133" in text and "[1]" in text
    assert "crocus-city-hall-attack.txt`, page 1" in text
    assert "*Rated down (wrong source): The toll is in another paragraph.*" in text


def test_a_reopened_conversation_shows_the_thumbs_its_answers_were_given(page):
    """Issue 22: the rating is stored at once; opening the conversation again shows it (the
    thumbs came back blank, inviting a second rating), and a new conversation starts blank."""
    title = "How tall is the Vrana lighthouse keeper's thumb rating?"
    ask(page, title)
    page.locator("#chat").get_by_role("button", name="Like").last.click()
    expect(page.locator("#feedback-status")).to_contain_text("rated up", timeout=TIMEOUT)
    page.locator("#new-chat").click()
    page.wait_for_function(f"document.querySelectorAll({FINAL!r}).length === 0")
    ask(page, "How many people died in the attack?")
    expect(page.locator("#chat").get_by_role("button", name="Liked")).to_have_count(0)
    page.locator("#conv-list").get_by_text(title).first.click()
    expect(page.locator("#chat").get_by_role("button", name="Liked")).to_have_count(
        1, timeout=TIMEOUT)


def test_regenerate_takes_the_replaced_answers_thumb_away(page):
    """The rating goes with the answer Regenerate replaces (the store drops it); the thumb
    stayed lit on the new answer, while an earlier answer's thumb stays."""
    ask(page, "How many people died in the attack?")
    page.locator("#chat").get_by_role("button", name="Like").last.click()
    expect(page.locator("#feedback-status")).to_contain_text("rated up", timeout=TIMEOUT)
    ask(page, "Who carried out the attack?")
    page.locator("#chat").get_by_role("button", name="Dislike").last.click()
    expect(page.locator("#feedback-panel")).to_be_visible(timeout=TIMEOUT)
    expect(page.locator("#chat").get_by_role("button", name="Disliked")).to_have_count(
        1, timeout=TIMEOUT)
    last = f"[...document.querySelectorAll({FINAL!r})].at(-1)"
    page.evaluate(f"{last}.dataset.replaced = '1'")  # the answer Regenerate replaces
    page.locator("#regenerate").click()
    page.wait_for_function(f"{last} && !{last}.dataset.replaced", timeout=TIMEOUT)
    expect(page.locator("#chat").get_by_role("button", name="Disliked")).to_have_count(
        0, timeout=TIMEOUT)
    expect(page.locator("#chat").get_by_role("button", name="Liked")).to_have_count(1)


def test_with_a_login_the_page_logs_in_and_answers(browser, tmp_path):
    """With --auth, the login gate (ui/login_gate.py) lets through only what the login form
    needs; after logging in on the page, the page's own routes (queue, heartbeat) work."""
    creds = ("anna", "pässwört-1")
    with running_server(tmp_path, "--auth", ":".join(creds), auth=creds) as (url, _):
        page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
        page.goto(url)  # the login form: it needs nothing the gate closes
        page.locator("input").first.fill(creds[0])
        page.locator("input[type=password]").fill(creds[1])
        page.keyboard.press("Enter")
        page.wait_for_selector("#question textarea", timeout=TIMEOUT)
        answer = ask(page, "How many people died in the attack?")
        assert "133" in answer.inner_text()
        page.context.close()
