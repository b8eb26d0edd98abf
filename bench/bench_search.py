"""Benchmark: how well the master loop's search passes estimate the whole song, and how many passes a mix needs.

Run: ``python bench/bench_search.py [--sessions 6] [--seconds 100]``. Mixes held-out generated songs (their
sections, not a loop) and the tiled bench sessions of 1 and 3 minutes with every preset and, for each final pass, records the search
estimate's error at that very chain: the renderer meters the final pass's own search segments, so the offset it
keeps (estimate minus measured) is that error. Also counts search and final passes per mix, with the search
pass's cost relative to the final pass's (wall time of each kind, same run). Writes ``bench/results/search.md``.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.common import session, write_table  # noqa: E402

STYLES = ("rock_punk", "rnb_ballad", "country_pop")


def mix_and_watch(folder: Path, style: str, out: Path) -> dict:
    """``automix mix`` in this process with the renderer watched: estimate errors, pass counts and pass times."""
    from automix import master_render
    from automix.cli import main

    seen = {"errors": [], "search": [], "final": []}
    original = master_render.MasterRenderer.__call__

    def watched(self, chain, final):
        t = time.perf_counter()
        measured = original(self, chain, final)
        seen["final" if final else "search"].append(time.perf_counter() - t)
        if final and not self.subset.whole:
            seen["errors"].append(self._offset)
        return measured

    master_render.MasterRenderer.__call__ = watched
    try:
        sys.argv = ["automix", "mix", str(folder), "--style", style, "--output", str(out), "--threads", "2", "--quiet"]
        try:
            main()
        except SystemExit as e:
            if e.code not in (0, 1, None):
                raise RuntimeError(f"automix mix exited {e.code} on {folder}") from None
    finally:
        master_render.MasterRenderer.__call__ = original
    return seen


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sessions", type=int, default=6, help="generated held-out songs")
    ap.add_argument("--seconds", type=float, default=100.0, help="length of each song")
    args = ap.parse_args()
    from automix.runtime import configure
    from automix.sessiongen import generate, held_out_seeds, write

    configure()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        songs = []
        for seed in held_out_seeds(args.sessions):
            folder = Path(tmp) / f"song{seed}"
            write(generate(seed, duration_s=args.seconds), folder)
            songs.append(folder)
        tiled = {seconds: Path(session(8, seconds)[0]).parent for seconds in (60.0, 180.0)}
        (Path(tmp) / "out").mkdir()
        for label, folders in ((f"{args.sessions} generated songs x {args.seconds:g} s", songs),
                               ("tiled bench session (a 12 s loop), 8 stems x 60 s", [tiled[60.0]]),
                               ("tiled bench session (a 12 s loop), 8 stems x 180 s", [tiled[180.0]])):
            for style in STYLES:
                runs = [mix_and_watch(f, style, Path(tmp) / "out" / f"{f.name}-{style}.wav") for f in folders]
                errors = [abs(e) for r in runs for e in r["errors"]]
                finals = [len(r["final"]) for r in runs]
                searches = [len(r["search"]) for r in runs]
                cost = (statistics.median(t for r in runs for t in r["search"])
                        / statistics.median(t for r in runs for t in r["final"]))
                rows.append([label, style, f"{statistics.median(errors):.3f}", f"{max(errors):.3f}",
                             f"{statistics.mean(searches):.1f} / {max(searches)}",
                             f"{statistics.mean(finals):.2f} / {max(finals)}", f"{cost:.2f}"])
    write_table("search", ["songs", "style", "estimate error LU (median)", "worst", "search passes (mean / max)",
                           "final passes (mean / max)", "search pass / final pass (wall)"], rows,
                notes=("Each final pass's error is the search estimate at its very chain against its measured "
                       "loudness (the renderer meters the final pass's own segments). A search pass renders the "
                       "master over a quarter of the song (at least 30 s of it); the final pass renders, meters "
                       "and writes all of it. "
                       "2 threads.",))


if __name__ == "__main__":
    main()
