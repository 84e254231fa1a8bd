"""The same questions on the page (Chromium, Enter to the finished answer) and through
``POST /api/ask``, against one ``docchat serve`` started here on the seed. Printed only.

    .venv/bin/python benchmarks/bench_page.py [--repeat 3]

Also prints the server's start (process start to /api/status answering, and to the models
being warm) and the first question's time. Page and API questions alternate, so the ratio
holds on a shared machine. Needs Debian's Chromium (make browser) and Playwright (make
test-setup).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from server import running_server  # noqa: E402

QUESTIONS = ["How many people died in the attack?", "Who carried out the attack?",
             "Where is the Crocus City Hall?", "How did the international community react?",
             "What is the boiling point of water?"]
FINAL = "#chat .dc-answer, #chat .dc-abstain, #chat .dc-error"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        t0 = time.perf_counter()
        with running_server(Path(tmp)) as (url, _):
            started = time.perf_counter() - t0
            while not httpx.get(f"{url}/api/status").json()["ready"]:  # the models load in
                time.sleep(0.05)  # the background: the first question comes after that
            ready = time.perf_counter() - t0
            browser = p.chromium.launch(executable_path="/usr/bin/chromium",
                                        args=["--headless", "--no-sandbox", "--disable-gpu"])
            page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
            page.goto(url)
            page.wait_for_selector("#question textarea")

            # where the page's time goes: a MutationObserver stamps (performance.now()) the
            # first draft of the question being asked and its final answer, in the page
            page.evaluate("""() => {
                window.dcStamps = {};
                new MutationObserver(() => {
                    const s = window.dcStamps;
                    if (s.enter === undefined || s.final !== undefined) return;
                    if (s.draft === undefined &&
                        document.querySelectorAll('#chat .dc-draft').length > s.drafts)
                        s.draft = performance.now();
                    if (document.querySelectorAll(%r).length > s.finals)
                        s.final = performance.now();
                }).observe(document.body, {childList: true, subtree: true,
                                           characterData: true});
            }""" % FINAL)

            def on_page(q: str) -> float:
                before = page.locator(FINAL).count()
                box = page.locator("#question textarea")
                box.fill(q)
                page.evaluate("""([f]) => { window.dcStamps = {
                    drafts: document.querySelectorAll('#chat .dc-draft').length,
                    finals: document.querySelectorAll(f).length,
                    enter: performance.now()}; }""", [FINAL])
                t = time.perf_counter()
                box.press("Enter")
                page.wait_for_function(
                    f"document.querySelectorAll({FINAL!r}).length > {before}", timeout=120_000)
                took = time.perf_counter() - t
                st = page.evaluate("() => window.dcStamps")
                if st.get("draft") is not None and st.get("final") is not None:
                    to_draft.append((st["draft"] - st["enter"]) / 1000)
                    draft_to_final.append((st["final"] - st["draft"]) / 1000)
                return took

            def on_api(q: str) -> float:
                t = time.perf_counter()
                r = httpx.post(f"{url}/api/ask", json={"question": q}, timeout=120)
                r.raise_for_status()
                return time.perf_counter() - t

            to_draft: list[float] = []
            draft_to_final: list[float] = []
            first = on_page(QUESTIONS[0])
            to_draft.clear()
            draft_to_final.clear()
            page_s, api_s = [], []
            for _ in range(args.repeat):
                for q in QUESTIONS:
                    page_s.append(on_page(q))
                    api_s.append(on_api(q))
            browser.close()
    ms = lambda xs: f"median {statistics.median(xs) * 1000:.0f} ms, max {max(xs) * 1000:.0f} ms"  # noqa: E731
    print(f"server start (seed indexed on first start) to /api/status: {started:.1f} s, "
          f"to the models loaded (ready): {ready:.1f} s")
    print(f"first question on the page (a new page, once ready): {first:.2f} s")
    print(f"page, Enter to the finished answer: n={len(page_s)} {ms(page_s)}")
    print(f"POST /api/ask: n={len(api_s)} {ms(api_s)}")
    if to_draft:
        print(f"  of the page's: Enter to the first draft shown: n={len(to_draft)} "
              f"{ms(to_draft)}; first draft to the answer shown: {ms(draft_to_final)}")
        print("  Enter to the first draft, question by question (ms): " +
              " ".join(f"{x * 1000:.0f}" for x in to_draft))
    print(f"page / API (medians): {statistics.median(page_s) / statistics.median(api_s):.2f}")


if __name__ == "__main__":
    main()
