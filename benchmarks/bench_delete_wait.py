"""Issue 20 item 3: how long a delete waits while an upload of a scanned PDF is read (OCR), on a
real `docchat serve` (watcher off). An 8-page scan (PIL-drawn text, no text layer) is uploaded
through the API; 3 s later the seed document is removed through the API, and both are timed.
Printed, never asserted (docs/formats.md).

    .venv/bin/python benchmarks/bench_delete_wait.py [REPO]   (default: this checkout; give an
                                                              older checkout to compare)"""
import os, socket, subprocess, sys, tempfile, threading, time
from pathlib import Path
import httpx
from PIL import Image, ImageDraw, ImageFont

repo = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).parents[1]).resolve()
work = Path(tempfile.mkdtemp())
pages = []
font = ImageFont.load_default(size=30)
for p in range(8):
    im = Image.new("L", (1275, 1650), 255)
    d = ImageDraw.Draw(im)
    for line in range(30):
        d.text((80, 80 + line * 48), f"Page {p + 1}, line {line + 1}: the depot in Brno kept {p * 30 + line} trams in its hall.", fill=0, font=font)
    pages.append(im)
pdf = work / "scan.pdf"
pages[0].save(pdf, save_all=True, append_images=pages[1:], resolution=150)
(work / "uploads").mkdir()
(work / "uploads" / "keep.md").write_text("The Olomouc archive holds 9,000 glass plates.\n")
s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close()
log = open(work / "serve.log", "w")
proc = subprocess.Popen([sys.executable, "-m", "rag", "serve", "--index", str(work / "index"),
                         "--docs", str(work / "uploads"), "--port", str(port)], cwd=repo,
                        stdout=log, stderr=subprocess.STDOUT,
                        env={**os.environ, "PYTHONPATH": str(repo), "DOCCHAT_WATCH_SECONDS": "0"})
base = f"http://127.0.0.1:{port}"
try:
    for _ in range(240):
        try:
            if httpx.get(f"{base}/api/status", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    docs = {d["name"]: d for d in httpx.get(f"{base}/api/documents").json()}
    gone = "crocus-city-hall-attack.txt"
    t_up = {}
    def upload():
        t0 = time.monotonic()
        r = httpx.post(f"{base}/api/documents", files={"files": ("scan.pdf", pdf.read_bytes(), "application/pdf")}, timeout=600)
        t_up["s"] = time.monotonic() - t0; t_up["code"] = r.status_code
    th = threading.Thread(target=upload); th.start()
    time.sleep(3)
    t0 = time.monotonic()
    r = httpx.delete(f"{base}/api/documents/{docs[gone]['id']}", timeout=600)
    t_del = time.monotonic() - t0
    th.join()
    after = sorted(d["name"] for d in httpx.get(f"{base}/api/documents").json() if d["status"] == "indexed")
    print(f"{time.strftime('%H:%M')} load {os.getloadavg()[0]:.1f}, {repo.name}: upload of an 8-page scan {t_up['s']:.1f} s ({t_up['code']}); delete sent 3 s into it took {t_del:.2f} s ({r.status_code}); indexed after: {after}")
finally:
    proc.terminate()
    proc.wait(10)
    log.close()
