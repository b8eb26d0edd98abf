"""The studio: how long from an edit to updated compliance.

Run: ``python bench/bench_studio.py [--stems 8] [--seconds 180] [--repeat 5]``. One generated session (8 stems x
3 minutes) is mixed with ``automix mix``, opened in a :class:`~automix.studio.Studio` (2 threads) and, once its
strips are cached, edited ``--repeat`` times per kind: a stem's fader, a stem's EQ, master-only edits (the
limiter ceiling; the master EQ, which re-renders the EQ over the kept compressor render), an undo. Each is timed from the edit call
to the render's first numbers (``state.provisional``: loudness before and after the master, final M/S) and to
the new state published (``status`` ready: every target and view). The baseline in the same run is the full
render of the same settings with ``render_to_file`` (what a re-render from scratch costs). Targets: a stem
edit's compliance within 2 s, a master-only edit's within 1 s. Writes ``bench/results/studio.md``.
"""
from __future__ import annotations

import argparse
import copy
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import contention_note, contention_probe, mixed_session, write_table  # noqa: E402


def _param(settings: dict, where, plugin: str) -> dict:
    chain = settings["master"]["chain"] if where == "master" else settings["stems"][where]["chain"]
    return next(p for p in chain if p["plugin"] == plugin)["params"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--stems", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=180.0)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    from automix.render import render_to_file
    from automix.settings import MixSettings
    from automix.studio import Studio

    before = contention_probe()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        _, out = mixed_session(root, args.stems, args.seconds, 2)
        t0 = time.perf_counter()
        first_at: list[float] = []  # when the render's first numbers (state.provisional) were published
        studio = Studio(out / "mix.report.json", threads=2, on_change=lambda: (
            first_at.append(time.perf_counter()) if studio.provisional is not None and not first_at else None))
        studio.wait()
        warm_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        render_to_file(MixSettings.load(out / "mix.settings.json"), root / "full.wav", threads=2)
        full_s = time.perf_counter() - t0

        def timed(request) -> tuple[float, float]:
            """(seconds to the first numbers, seconds to the full compliance) of one request."""
            first_at.clear()
            t = time.perf_counter()
            request()
            studio.wait()
            took = time.perf_counter() - t
            assert studio.state()["status"] == "ready", studio.state()["error"]
            return (first_at[0] - t if first_at else took), took

        def edit(change):
            s = copy.deepcopy(studio.state()["page"]["settings"])
            change(s)
            return lambda: studio.edit(s)

        kinds = {
            "stem fader (+0.5 dB on stem 1)": lambda k: edit(lambda s: _param(s, 1, "gain").update(
                gain_db=round(_param(s, 1, "gain")["gain_db"] + 0.5, 2))),
            "stem EQ (peak 2 gain on stem 3)": lambda k: edit(lambda s: _param(s, 3, "eq").update(
                peak2_gain_db=round(((k % 3) - 1) * 1.5, 2))),
            "master only (limiter ceiling)": lambda k: edit(lambda s: _param(s, "master", "limiter").update(
                ceiling_db=round(-1.1 - 0.1 * (k % 3), 2))),
            "master only (EQ low shelf: the EQ re-renders over the kept compressor render)": lambda k: edit(
                lambda s: _param(s, "master", "eq").update(low_shelf_gain_db=round(((k % 3) - 1) * 0.5, 2))),
            "undo (strips cached)": lambda k: studio.undo,
        }
        rows = [["full render of the session (baseline, render_to_file, 2 threads)", "", f"{full_s:.2f}", "", "1.00",
                 ""],
                ["studio opened (every strip rendered and cached, equal-loudness reference)", "", f"{warm_s:.2f}", "",
                 f"{warm_s / full_s:.2f}", ""]]
        for label, make in kinds.items():
            times = [timed(make(k)) for k in range(args.repeat)]
            first = [t[0] for t in times]
            full = [t[1] for t in times]
            target = "< 1 s" if label.startswith("master") else "< 2 s" if label.startswith("stem") else ""
            rows.append([label, f"{statistics.median(first):.2f} / {max(first):.2f}",
                         f"{statistics.median(full):.2f}", f"{max(full):.2f}",
                         f"{statistics.median(full) / full_s:.2f}", target])
    write_table("studio", ["edit (8 stems x 3 min unless noted)", "first numbers s (median / worst)",
                           "full compliance median s", "worst s", "full / full render", "target (first numbers)"],
                rows,
                notes=(f"{args.stems} stems x {args.seconds:g} s, 44.1 kHz; {args.repeat} edits per kind, each timed "
                       "from the request: 'first numbers' to state.provisional (loudness before and after the master, "
                       "final M/S, from the render's first pass), 'full compliance' to the new state published "
                       "(the final pass: true peak, spectrum, band balance, views)",
                       contention_note(before, contention_probe())))


if __name__ == "__main__":
    main()
