"""The OCR worker (rag/ingest/formats/ocr_worker.py), the process that renders and reads a
PDF's scanned pages under a memory cap: its pure helpers (the render scale within the pixel
cap, a blank page told without Tesseract) and its protocol, one JSON line per page, kept when
a later page fails. Tesseract is replaced by small scripts given as the job's "program" (what
it is given and what it answers are what is tested; tesseract itself: tests/ingest/test_ocr.py,
which drives this worker through rag.ingest.formats.ocr). The first test was in test_ocr.py,
moved unchanged."""
from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time

import pytest
from test_ocr import blank_pages_pdf, text_pdf

from rag.ingest.formats import ocr_worker
from rag.ingest.formats.ocr_worker import blank, render_scale

WORKER = ocr_worker.__file__


def test_a_huge_page_is_rendered_at_a_lower_resolution_within_the_pixel_cap():
    from rag.ingest.formats.ocr_worker import render_scale

    scale = render_scale(10_000, 10_000, 200, 40_000_000)  # 10,000 pt square at 200 dpi
    assert (10_000 * scale) ** 2 <= 40_000_000 * 1.0001
    assert render_scale(595, 842, 200, 40_000_000) == pytest.approx(200 / 72)  # A4: as asked


@pytest.mark.parametrize("w, h", [(10_000, 10_000), (100_000, 10), (14_400, 14_400),
                                  (595, 842), (1, 1)])
@pytest.mark.parametrize("dpi, cap", [(200, 40_000_000), (300, 1_000_000), (72, 100)])
def test_the_image_never_exceeds_the_pixel_cap_and_is_never_enlarged(w, h, dpi, cap):
    scale = render_scale(w, h, dpi, cap)
    assert 0 < scale <= dpi / 72
    assert (w * scale) * (h * scale) <= cap * 1.0001
    if w * h * (dpi / 72) ** 2 <= cap:
        assert scale == pytest.approx(dpi / 72)  # within the cap: the resolution asked


def test_a_page_without_size_is_rendered_as_asked_not_divided_by_zero():
    assert render_scale(0, 0, 150, 1_000) == pytest.approx(150 / 72)
    assert render_scale(0, 1e9, 150, 1_000_000) < 150 / 72  # one huge side still counts


def image(mode="L", size=(40, 40), color=255, mark=None):
    from PIL import Image

    im = Image.new(mode, size, color)
    if mark is not None:
        im.putpixel((3, 3), mark)
    return im


@pytest.mark.parametrize("im, expected", [
    (image(), True),  # white sheet
    (image(color=0), True),  # black sheet: no contrast either
    (image(color=200, mark=200 + ocr_worker.BLANK_CONTRAST - 1), True),  # scanner noise
    (image(color=200, mark=200 + ocr_worker.BLANK_CONTRAST), False),
    (image(mark=0), False),  # one dark dot on white
    (image("RGB", color=(255, 255, 255), mark=(0, 0, 0)), False),  # colour scans too
    (image("RGB", color=(250, 250, 250)), True),
    (image("1", color=1, mark=0), False),  # a bilevel fax
])
def test_blank_means_no_contrast_at_all(im, expected):
    assert blank(im) is expected


# -- the protocol, in process (run) ----------------------------------------------------------

def job(tmp_path, **kw) -> dict:
    """A job as rag.ingest.formats.ocr writes it (default program: fake_program's)."""
    base = {"numbers": [0], "dpi": 50, "lang": "eng", "page_seconds": 30,
            "max_pixels": 4_000_000, "max_pages": 100, "file_seconds": 60, "max_mb": 2048}
    return {**base, "program": kw.pop("program", None) or fake_program(tmp_path), **kw}


def fake_program(tmp_path, body="") -> str:
    """A stand-in for tesseract: records its arguments and the PNG it was given, prints a
    page's text (or runs ``body``)."""
    path = tmp_path / "fake-tesseract"
    path.write_text(f"""#!{sys.executable}
import sys, json
data = sys.stdin.buffer.read()
with open({str(tmp_path / "calls.jsonl")!r}, "a") as f:
    f.write(json.dumps({{"argv": sys.argv[1:], "png": data[:8].hex(), "size": len(data)}}) + "\\n")
{body or 'print("text of the page")'}
""")
    path.chmod(0o755)
    return str(path)


def calls(tmp_path) -> list[dict]:
    f = tmp_path / "calls.jsonl"
    return [json.loads(line) for line in f.read_text().splitlines()] if f.exists() else []


def lines(job: dict, pdf: bytes) -> list[dict]:
    out = io.StringIO()
    ocr_worker.run(job, pdf, out)
    text = out.getvalue()
    assert text == "" or text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]


def test_a_page_is_given_to_the_program_as_png_on_stdin_with_the_language(tmp_path):
    pdf = text_pdf([["The lighthouse keeper lit the lamp."], ["Second page."]])
    got = lines(job(tmp_path, numbers=[1, 0], lang="deu+eng"), pdf)
    assert got == [{"page": 1, "text": "text of the page\n"},
                   {"page": 0, "text": "text of the page\n"}]  # in the order asked
    made = calls(tmp_path)
    assert [c["argv"] for c in made] == [["stdin", "stdout", "-l", "deu+eng"]] * 2
    assert all(c["png"] == "89504e470d0a1a0a" for c in made)  # a PNG image


def test_blank_pages_never_reach_the_program(tmp_path):
    got = lines(job(tmp_path, numbers=[0, 1, 2]), blank_pages_pdf(3))
    assert got == [{"page": i, "blank": True} for i in range(3)]
    assert calls(tmp_path) == []


def test_not_a_pdf_is_one_error_line_for_the_file(tmp_path):
    (got,) = lines(job(tmp_path), b"%PDF-1.4 this is not really a pdf")
    assert set(got) == {"error"} and got["error"].startswith("cannot render the PDF for OCR: ")


def test_a_bad_page_fails_alone_and_the_others_are_read(tmp_path):
    got = lines(job(tmp_path, numbers=[0, 7, 1]), blank_pages_pdf(2))
    assert got[0] == {"page": 0, "blank": True} and got[2] == {"page": 1, "blank": True}
    assert got[1]["page"] == 7 and got[1]["error"].startswith("cannot render for OCR: ")


def test_the_program_failing_is_that_page_s_error_with_its_last_words(tmp_path):
    body = ('sys.stderr.write("x" * 1000 + " Error opening data file eng.traineddata")\n'
            'sys.exit(1)')
    program = fake_program(tmp_path, body)
    (got,) = lines(job(tmp_path, program=program), text_pdf([["Some words here."]]))
    assert got["page"] == 0 and got["error"].startswith("tesseract failed: ")
    assert got["error"].endswith("Error opening data file eng.traineddata")
    assert len(got["error"]) <= len("tesseract failed: ") + 300  # the tail, not a log


def test_a_slow_page_is_cut_at_its_budget_naming_the_setting(tmp_path):
    program = fake_program(tmp_path, "import time; time.sleep(10)")
    t = time.monotonic()
    (got,) = lines(job(tmp_path, program=program, page_seconds=0.5),
                   text_pdf([["Some words here."]]))
    assert time.monotonic() - t < 5
    assert got == {"page": 0, "error": "OCR took longer than 0.5 s (DOCCHAT_OCR_PAGE_SECONDS)"}


def test_output_that_is_not_utf8_is_kept_with_replacement_characters(tmp_path):
    program = fake_program(tmp_path, r'sys.stdout.buffer.write(b"caf\xe9 ol\xc3\xa9")')
    (got,) = lines(job(tmp_path, program=program), text_pdf([["Some words here."]]))
    assert got == {"page": 0, "text": "caf\ufffd olé"}


def test_the_page_cap_and_the_file_s_time_stop_the_reading(tmp_path):
    pdf = blank_pages_pdf(5)
    assert [x["page"] for x in lines(job(tmp_path, numbers=[4, 3, 2, 1, 0], max_pages=2),
                                     pdf)] == [4, 3]
    assert lines(job(tmp_path, numbers=[0, 1], file_seconds=-1), pdf) == []


def test_a_page_beyond_the_memory_cap_names_the_cap(tmp_path, monkeypatch):
    def too_big(*a):
        raise MemoryError

    monkeypatch.setattr(ocr_worker, "render_scale", too_big)
    (got,) = lines(job(tmp_path, max_mb=300), blank_pages_pdf(1))
    assert got == {"page": 0, "error": "rendering needs more than the OCR memory cap, 300 MB "
                                       "(DOCCHAT_OCR_MAX_MB)"}


# -- as rag.ingest.formats.ocr runs it: a script, isolated, under the cap -------------------

def worker(job: dict, **popen) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-I", WORKER, json.dumps(job)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, **popen)


def test_the_script_runs_isolated_and_answers_one_line_a_page(tmp_path):
    """-I: no PYTHONPATH, no current folder: the worker needs nothing of rag."""
    proc = worker(job(tmp_path, numbers=[0, 1]), cwd=tmp_path)
    out, err = proc.communicate(blank_pages_pdf(2), timeout=60)
    assert proc.returncode == 0, err
    assert [json.loads(line) for line in out.decode().splitlines()] == [
        {"page": 0, "blank": True}, {"page": 1, "blank": True}]


def test_a_page_read_is_sent_at_once_before_the_next_is_done(tmp_path):
    """Pages read before a failure or the file's deadline are kept: each line is flushed as
    soon as its page is read, not when the worker ends."""
    body = ('import os, time\n'
            f'marker = {str(tmp_path / "seen")!r}\n'
            'if os.path.exists(marker): time.sleep(60)\n'
            'open(marker, "w").close()\n'
            'print("first page")')
    program = fake_program(tmp_path, body)
    proc = worker(job(tmp_path, numbers=[0, 1], program=program), start_new_session=True)
    try:
        proc.stdin.write(text_pdf([["Page one words."], ["Page two words."]]))
        proc.stdin.close()
        t = time.monotonic()
        first = proc.stdout.readline()
        assert json.loads(first) == {"page": 0, "text": "first page\n"}
        assert time.monotonic() - t < 30 and proc.poll() is None  # still on page 2
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def test_under_the_memory_cap_a_huge_page_fails_alone_and_the_worker_ends_well(tmp_path):
    """The address space is capped before anything is rendered: a page that would need
    gigabytes fails with a reason naming the cap; the next page is still read."""
    from reportlab.pdfgen import canvas

    buf = io.BytesIO()
    pdf = canvas.Canvas(buf, pagesize=(14_400, 14_400))
    pdf.rect(100, 7_000, 5_000, 300, fill=1)
    pdf.showPage()
    pdf.setPageSize((300, 300))
    pdf.showPage()  # a blank page after it
    pdf.save()
    proc = worker(job(tmp_path, numbers=[0, 1], dpi=200, max_pixels=10**9, max_mb=300))
    out, err = proc.communicate(buf.getvalue(), timeout=60)
    assert proc.returncode == 0, err
    got = [json.loads(line) for line in out.decode().splitlines()]
    assert got[0]["page"] == 0 and "(DOCCHAT_OCR_MAX_MB)" in got[0]["error"], got
    assert got[1] == {"page": 1, "blank": True}
