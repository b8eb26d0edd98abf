"""Benchmark: end-to-end ``mix_session`` speed and memory, next to the read+sum+write floor.

Run: ``python bench/bench_mix.py [--quick]``. End to end = probe, analyse,
predict, pre-master render, tonal match, master loop (every iteration renders
and meters the master), write. Each measurement runs in its own
single-threaded process. Writes ``bench/results/mix.md``.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.bench_engines import FLOOR  # noqa: E402
from bench.common import contention_note, contention_probe, run_isolated, session, write_table  # noqa: E402

MIX = """
import time, sys
from automix.mixer import mix_session
from automix.styles import get_style
paths, out, threads = sys.argv[1].split(','), sys.argv[2], int(sys.argv[3])
t = time.perf_counter(); c0 = time.process_time()
r = mix_session(paths, style=get_style('rock_punk'), output=out, threads=threads)
import soundfile as sf
RESULT = dict(seconds=time.perf_counter() - t, cpu_s=time.process_time() - c0, audio_s=sf.info(out).frames / 44100, status=r['status'],
              iterations=len(r['master']['iterations']), timings=r['timings'])
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    long_s, mem_s = (30, 60) if args.quick else (180, 600)
    out = "/tmp/automix-bench/mix.wav"
    paths = ",".join(session(8, long_s))
    probe_before = contention_probe()
    floor = run_isolated(FLOOR, paths, out)
    mix = run_isolated(MIX, paths, out, 1)
    mix2 = run_isolated(MIX, paths, out, 2)
    big = run_isolated(MIX, ",".join(session(8, mem_s)), out, 1)
    rt = lambda r: r["audio_s"] / r["seconds"]
    cpu = lambda r: f"{r['audio_s'] / r['cpu_s']:.1f}x" if r.get("cpu_s") else ""
    t = mix["timings"]
    rows = [
        [f"floor: read 8 stems + sum + write ({long_s} s)", f"{rt(floor):.0f}x", cpu(floor), "1.00",
         f"{floor['peak_rss_mb']:.0f}", ""],
        [f"automix mix end to end, 8 stems x {long_s} s, 1 core", f"{rt(mix):.1f}x", cpu(mix),
         f"{rt(mix) / rt(floor):.2f}", f"{mix['peak_rss_mb']:.0f}",
         f"{mix['iterations']} loop iterations; analysis {t['analysis_s']:.1f} s, pre-master {t['premaster_s']:.1f} s, "
         f"master loop {t['master_s']:.1f} s"],
        [f"automix mix end to end, 8 stems x {long_s} s, --threads 2", f"{rt(mix2):.1f}x", cpu(mix2),
         f"{rt(mix2) / rt(floor):.2f} ({rt(mix2) / rt(mix):.2f} of 1 thread)", f"{mix2['peak_rss_mb']:.0f}",
         f"{mix2['iterations']} loop iterations; pre-master {mix2['timings']['premaster_s']:.1f} s"],
        [f"automix mix end to end, 8 stems x {mem_s} s, 1 core", f"{rt(big):.1f}x", cpu(big), "",
         f"{big['peak_rss_mb']:.0f}", f"status {big['status']}, {big['iterations']} loop iterations"],
    ]
    write_table("mix", ["measurement", "x real time", "per CPU s", "ratio to floor", "peak RSS MB", "notes"], rows,
                notes=(contention_note(probe_before, contention_probe()),))


if __name__ == "__main__":
    main()
