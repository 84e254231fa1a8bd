"""The page's own CSS and script (ui/assets.py): served inline and offline (nothing fetched from
another host: no CDN, no web font, no external script), well-formed, text on the backgrounds
they set readable (WCAG AA), and the script's classes and selectors the ones the CSS styles and
the page's HTML carries. (The computed contrast in a real browser: tests/e2e.)"""
from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from conftest import ROOT

from ui.assets import CSS, HEAD_JS

SCRIPT = HEAD_JS.removeprefix("<script>").removesuffix("</script>")


def rules(css: str) -> list[tuple[str, dict[str, str]]]:
    """(selector, {property: value}) of every innermost block (inside @media too)."""
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.S)
    out = []
    for selector, body in re.findall(r"([^{}]+)\{([^{}]*)\}", css):
        decls = {}
        for d in body.split(";"):
            if ":" in d:
                prop, value = d.split(":", 1)
                decls[prop.strip()] = value.replace("!important", "").strip()
        out.append((" ".join(selector.split()), decls))
    return out


def luminance(hex_colour: str) -> float:
    channels = [int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def contrast(a: str, b: str) -> float:
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


@pytest.mark.parametrize("text", [CSS, HEAD_JS], ids=["css", "script"])
def test_nothing_is_fetched_from_another_host(text):
    assert not re.search(r"(?i)https?:|//[a-z0-9.-]+\.[a-z]{2,}/|@import|@font-face|url\(|"
                         r"<link|\bsrc\s*=|fetch\(|import\(|XMLHttpRequest", text)


def test_the_script_is_one_inline_script_element():
    assert HEAD_JS.startswith("<script>") and HEAD_JS.endswith("</script>")
    assert HEAD_JS.count("<script") == 1 and "</script" not in SCRIPT


def test_the_script_parses_as_javascript(tmp_path):
    node = shutil.which("node")
    if node is None:
        pytest.skip("no node here to parse the script with")
    (tmp_path / "head.js").write_text(SCRIPT, encoding="utf-8")
    done = subprocess.run([node, "--check", str(tmp_path / "head.js")], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_the_css_is_well_formed():
    css = re.sub(r"/\*.*?\*/", "", CSS, flags=re.S)
    assert "/*" not in css and "*/" not in css  # every comment closed
    depth = 0
    for ch in css:
        depth += {"{": 1, "}": -1}.get(ch, 0)
        assert 0 <= depth <= 2  # a rule, or a rule inside @media
    assert depth == 0
    for selector, decls in rules(CSS):
        assert decls, f"an empty rule: {selector}"
        assert all(re.fullmatch(r"-?[a-z-]+", p) and v for p, v in decls.items()), selector


def test_text_on_a_background_the_css_sets_is_readable():
    pairs = [(sel, d["color"], d.get("background", d.get("background-color")))
             for sel, d in rules(CSS) if "color" in d and
             re.fullmatch(r"#[0-9a-f]{6}", d.get("background", d.get("background-color", "")))]
    assert len(pairs) >= 6  # light and dark: unsupported sentences, marks, the overlay
    for selector, fg, bg in pairs:
        assert contrast(fg, bg) >= 4.5, (selector, fg, bg, round(contrast(fg, bg), 2))


def test_every_class_the_script_sets_is_styled():
    added = set(re.findall(r'"(dc-[a-z-]+)"', " ".join(
        re.findall(r"classList\.add\(([^)]*)\)", SCRIPT))))
    assert added >= {"dc-open", "dc-focus", "dc-overlay", "dc-picked"}
    styled = {c for sel, _ in rules(CSS) for c in re.findall(r"\.(dc-[a-z-]+)", sel)}
    assert added <= styled, added - styled


def test_every_class_the_script_looks_for_is_one_the_pages_html_carries():
    wanted = {c for s in re.findall(r'(?:closest|querySelectorAll)\("([^"]+)"\)', SCRIPT)
              for c in re.findall(r"\.(dc-[a-z-]+)", s)}
    wanted -= set(re.findall(r'"(dc-[a-z-]+)"', SCRIPT))  # the script's own marks
    assert wanted >= {"dc-cite", "dc-src", "dc-sources", "dc-turn", "dc-close", "dc-flag"}
    written = " ".join(p.read_text(encoding="utf-8") for p in (ROOT / "ui").glob("render_*.py"))
    assert all(re.search(rf"\b{c}\b", written) for c in wanted), \
        {c for c in wanted if not re.search(rf"\b{c}\b", written)}
    assert "data-sources" in written
