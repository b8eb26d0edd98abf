"""The browser pages: what writing them costs a batch, and how fast the dashboard opens.

Run: ``python bench/bench_pages.py [--sessions 12] [--seconds 20] [--repeat 3]``. One batch of generated
sessions (``automix batch --no-html``, 2 jobs) is the baseline; then, ``--repeat`` times, the pages are written
for its output folder (``index.html`` and every ``report.html``, what ``automix batch`` does at its end) and
the dashboard is opened from disk in headless Chromium (Selenium), timed from the navigation until every row
is in the table. Targets: pages under 3% of the batch's time; dashboard open in under 2 s; bundle under 500 KB
gzipped; a session's inlined data under 200 KB. Writes ``bench/results/pages.md``.
"""
from __future__ import annotations

import argparse
import gzip
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import contention_note, contention_probe, write_table  # noqa: E402


def _open_dashboard(index: Path, rows: int) -> float:
    """Seconds from the navigation to ``rows`` rows shown, in a fresh headless Chromium."""
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.support.ui import WebDriverWait

    opts = Options()
    opts.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1400,1000"):
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver") or "/usr/bin/chromedriver"), options=opts)
    try:
        t0 = time.perf_counter()
        driver.get(index.as_uri())
        WebDriverWait(driver, 30, poll_frequency=0.01).until(
            lambda d: len(d.find_elements("css selector", '[data-testid="session-row"]')) >= rows)
        return time.perf_counter() - t0
    finally:
        driver.quit()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sessions", type=int, default=12)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    from automix import pages
    from automix.batch.runner import run_batch
    from automix.sessiongen import write_sessions

    before = contention_probe()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_sessions(root / "in", args.sessions, seed=500, duration_s=args.seconds)
        t0 = time.perf_counter()
        run_batch(root / "in", root / "out", style="rock_punk", jobs=2, html=False, handle_signals=False)
        batch_s = time.perf_counter() - t0
        write_s, open_s = [], []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            pages.write_batch_html(root / "out")
            write_s.append(time.perf_counter() - t0)
            open_s.append(_open_dashboard(root / "out" / "index.html", args.sessions))
        data_kb = max(len(json.dumps(pages.session_page(r), separators=(",", ":")).encode())
                      for r in (root / "out").glob("*/report.json")) / 1000
        page_kb = max(p.stat().st_size for p in (root / "out").glob("*/report.html")) / 1000
    js, css = pages.bundle()
    bundle_kb = len((js + css).encode()) / 1000
    bundle_gz_kb = len(gzip.compress((js + css).encode(), 9)) / 1000
    w, o = statistics.median(write_s), statistics.median(open_s)
    rows = [
        [f"batch of {args.sessions} x {args.seconds:g} s sessions, 2 jobs, no pages (baseline)", f"{batch_s:.1f} s",
         "1", ""],
        ["writing index.html and every report.html", f"{w:.3f} s", f"{w / batch_s:.4f}", "< 0.03"],
        ["dashboard opened from disk in Chromium, every row shown", f"{o:.2f} s", f"{o / 2.0:.2f} of 2 s", "< 2 s"],
        ["app bundle (app.js + app.css)", f"{bundle_kb:.0f} KB raw, {bundle_gz_kb:.0f} KB gzipped", "",
         "< 500 KB gzipped"],
        ["largest session's inlined data", f"{data_kb:.0f} KB (page {page_kb:.0f} KB)", "", "< 200 KB"],
    ]
    write_table("pages", ["what", "measured", "ratio", "target"], rows,
                notes=(f"median of {args.repeat} rounds for the page writing and the dashboard opening",
                       contention_note(before, contention_probe())))


if __name__ == "__main__":
    main()
