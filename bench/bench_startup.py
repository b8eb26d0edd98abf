"""CLI start-up: how long a user waits for an answer that needs no engine.

Run: ``python bench/bench_startup.py [--repeat 7]``. Times (median of ``--repeat`` runs, wall clock) of
``python -m automix`` answering an input error, printing help or listing styles, against the bare
interpreter's start-up in the same run (the baseline: what no Python CLI can beat). Target: an input error
answered in under 0.5 s. Writes ``bench/results/startup.md``.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import contention_note, contention_probe, write_table  # noqa: E402


def _median_s(argv: list[str], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run(argv, capture_output=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    before = contention_probe()
    with tempfile.TemporaryDirectory() as tmp:
        missing, out = str(Path(tmp) / "missing.wav"), str(Path(tmp) / "mix.wav")
        py = [sys.executable]
        cases = [
            ("bare interpreter (baseline): python -c pass", py + ["-c", "pass"]),
            ("automix --help", py + ["-m", "automix", "--help"]),
            ("automix mix with a missing stem (input error)",
             py + ["-m", "automix", "mix", "--stems", missing, "--style", "rock_punk", "--output", out]),
            ("automix mix --output x.mp3 (format refused)",
             py + ["-m", "automix", "mix", "--stems", missing, "--style", "rock_punk", "--output", out[:-4] + ".mp3"]),
            ("automix analyze with a missing file", py + ["-m", "automix", "analyze", missing]),
            ("automix styles", py + ["-m", "automix", "styles"]),
            ("automix plugins", py + ["-m", "automix", "plugins"]),
        ]
        times = [(label, _median_s(argv, args.repeat)) for label, argv in cases]
    base = times[0][1]
    rows = [[label, f"{t:.3f}", f"{t / base:.1f}", "< 0.5 s" if "input error" in label else ""] for label, t in times]
    write_table("startup", ["command", "median s", "ratio to bare interpreter", "target"], rows,
                notes=(contention_note(before, contention_probe()),))


if __name__ == "__main__":
    main()
