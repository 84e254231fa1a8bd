"""The OCR of one PDF's scanned pages, in a process of its own under a memory cap (issue 20,
item 3): a page that renders to a huge image, or whose content stream inflates from 1 MB to
1 GB, makes this process fail its allocations, never the server that indexes the file.

Run as a script by rag.ingest.formats.ocr (``python ocr_worker.py JSON`` with the PDF on
stdin), it imports nothing of rag, so it starts in a fraction of a second: the address space
is capped first (RLIMIT_AS, inherited by Tesseract), then each page is rendered (at a scale
decided from its size before rendering), recognised blank without Tesseract, or read by
Tesseract with the page's time budget. One JSON line per page on stdout, as soon as it is
read, so that the pages read before a failure or the file's deadline are kept:
``{"page": i, "text": ...}``, ``{"page": i, "blank": true}`` or ``{"page": i, "error": ...}``.
"""
from __future__ import annotations

import io
import json
import subprocess
import sys
import time

BLANK_CONTRAST = 16  # grey levels between the darkest and lightest pixel of an empty page


def render_scale(width_pt: float, height_pt: float, dpi: int, max_pixels: int) -> float:
    """The render scale for a page: ``dpi``, lowered so that the image has at most
    ``max_pixels`` pixels (decided from the page's size, before anything is rendered)."""
    scale = dpi / 72
    area = max(width_pt, 1.0) * max(height_pt, 1.0) * scale * scale
    if area > max_pixels:
        scale *= (max_pixels / area) ** 0.5
    return scale


def blank(image) -> bool:
    """A page with nothing on it (a scanner's empty sheet): no need to run Tesseract."""
    low, high = image.convert("L").getextrema()
    return high - low < BLANK_CONTRAST


def cap_memory(max_mb: float) -> None:
    import resource

    limit = int(max_mb * 1024 * 1024)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def run(job: dict, data: bytes, out) -> None:
    import pypdfium2 as pdfium

    started = time.monotonic()
    try:
        pdf = pdfium.PdfDocument(data)
    except Exception as e:  # noqa: BLE001 - pdfium refuses what it cannot open
        out.write(json.dumps({"error": f"cannot render the PDF for OCR: {e}"}) + "\n")
        return
    for count, i in enumerate(job["numbers"]):
        if count >= job["max_pages"] or time.monotonic() - started > job["file_seconds"]:
            break
        line: dict = {"page": i}
        try:
            width, height = pdf[i].get_size()
            scale = render_scale(width, height, job["dpi"], job["max_pixels"])
            image = pdf[i].render(scale=scale).to_pil()
            if blank(image):
                line["blank"] = True
            else:
                png = io.BytesIO()
                image.save(png, format="PNG")
                del image
                done = subprocess.run([job["program"], "stdin", "stdout", "-l", job["lang"]],
                                      input=png.getvalue(), capture_output=True,
                                      timeout=job["page_seconds"])
                if done.returncode != 0:
                    line["error"] = "tesseract failed: " + \
                        done.stderr.decode(errors="replace").strip()[-300:]
                else:
                    line["text"] = done.stdout.decode("utf-8", errors="replace")
        except subprocess.TimeoutExpired:
            line["error"] = (f"OCR took longer than {job['page_seconds']:g} s "
                             "(DOCCHAT_OCR_PAGE_SECONDS)")
        except MemoryError:
            line["error"] = (f"rendering needs more than the OCR memory cap, "
                             f"{job['max_mb']:g} MB (DOCCHAT_OCR_MAX_MB)")
        except Exception as e:  # noqa: BLE001 - one bad page must not lose the others
            line["error"] = f"cannot render for OCR: {e}"
        out.write(json.dumps(line) + "\n")
        out.flush()
    pdf.close()


def main() -> None:
    job = json.loads(sys.argv[1])
    data = sys.stdin.buffer.read()
    cap_memory(job["max_mb"])
    run(job, data, sys.stdout)


if __name__ == "__main__":
    main()
