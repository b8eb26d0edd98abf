"""Benchmarks: production render speed and memory, torch engine speed/memory, parity sweep.

Run: ``python bench/bench_engines.py [--quick]``. Every speed is reported as
x real time and as a ratio to a baseline measured in the same run; each
measurement runs in its own single-threaded process so peak RSS is its own.
Writes ``bench/results/engines.md``.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import contention_note, contention_probe, run_isolated, session, write_table  # noqa: E402

#: the IO floor every speed is measured against, as the goals were set on it: each stem read by libsndfile in
#: float32 blocks, checked finite and made planar (what automix's reader did then), the blocks summed and the sum
#: written as 24-bit WAV by libsndfile's float writer under a temporary name, fsynced and moved in place (what
#: automix's writer did then). It stands for the machine, not for automix: automix's reader and writer now
#: convert PCM themselves, faster than libsndfile, and a floor through them would move whenever they do
FLOOR = """
import os, time, numpy as np, sys, soundfile as sf
BLOCK_FRAMES = 65536
paths = sys.argv[1].split(',')
t = time.perf_counter(); c0 = time.process_time()
files = [sf.SoundFile(p) for p in paths]
n = max(f.frames for f in files)
tmp = sys.argv[2] + ".partial.wav"
out = sf.SoundFile(tmp, "w", 44100, 2, "PCM_24")

def read(f, m):
    raw = f.read(m, dtype="float32", always_2d=True)
    assert np.isfinite(raw).all()
    block = np.ascontiguousarray(raw.T)
    block = np.repeat(block, 2, axis=0) if block.shape[0] == 1 else block
    return np.concatenate([block, np.zeros((2, m - block.shape[1]), np.float32)], axis=1)

for s in range(0, n, BLOCK_FRAMES):
    m = min(BLOCK_FRAMES, n - s)
    bus = read(files[0], m)
    for f in files[1:]:
        bus += read(f, m)
    out.write(np.ascontiguousarray(bus.T))
out.close()
with open(tmp, "rb+") as fh:
    os.fsync(fh.fileno())
os.replace(tmp, sys.argv[2])
RESULT = dict(seconds=time.perf_counter() - t, cpu_s=time.process_time() - c0, audio_s=n / 44100)
"""

RENDER = """
import time, sys, numpy as np
from automix.render import render_to_file
from automix.settings import MixSettings, StemSettings, PluginSettings, STEM_CHAIN, MASTER_CHAIN
from automix.plugins import get_plugin
paths, out, threads = sys.argv[1].split(','), sys.argv[2], int(sys.argv[3])
def chain(names, **over):
    c = []
    for n in names:
        d = get_plugin(n).defaults(); d.update(over.get(n, {})); c.append(PluginSettings(n, d))
    return c
strip = dict(eq=dict(low_shelf_gain_db=2.0, peak2_gain_db=-3.0, high_shelf_gain_db=1.5),
             compressor=dict(threshold_db=-24.0, ratio=3.0), saturation=dict(mix=0.3), pan=dict(pan=0.2))
settings = MixSettings(44100, [StemSettings(p, chain(STEM_CHAIN, **strip), -6.0) for p in paths],
                       chain(MASTER_CHAIN, compressor=dict(threshold_db=-12.0, ratio=2.0), gain=dict(gain_db=6.0),
                             limiter=dict(true_peak=1.0, ceiling_db=-1.2)))
t = time.perf_counter(); c0 = time.process_time()
m = render_to_file(settings, out, engine='pedalboard', threads=threads)
import soundfile as sf
RESULT = dict(seconds=time.perf_counter() - t, cpu_s=time.process_time() - c0, audio_s=sf.info(out).frames / 44100, true_peak=m['true_peak_dbtp'])
"""

TORCH = """
import time, sys, torch, numpy as np
torch.set_num_threads(1)
from automix.engines.torch_engine import render_mix
from automix.settings import MixSettings, StemSettings, PluginSettings, STEM_CHAIN, MASTER_CHAIN
from automix.plugins import get_plugin
backward = sys.argv[1] == '1'
sr, n = 44100, 441000
rng = np.random.default_rng(0)
stems = torch.from_numpy((rng.standard_normal((8, 2, n)) * 0.1).astype(np.float32))
def chain(names):
    return [PluginSettings(k, get_plugin(k).defaults()) for k in names]
settings = MixSettings(sr, [StemSettings(f's{i}.wav', chain(STEM_CHAIN)) for i in range(8)], chain(MASTER_CHAIN))
for s in settings.stems:
    s.chain[1].params.update(threshold_db=-20.0, ratio=4.0)
    s.chain[0].params.update(low_shelf_gain_db=3.0)
gains = torch.zeros(8, dtype=torch.float64, requires_grad=backward)
from automix.engines import torch_engine
def run():
    chains = [torch_engine.stem_chain(gains[i], s.chain) for i, s in enumerate(settings.stems)]
    bus = torch_engine.render_stems(stems.requires_grad_(False), sr, chains)
    y = torch_engine.apply_chain(bus[None], sr, [(p.plugin, dict(p.params)) for p in settings.master])
    if backward:
        y.pow(2).mean().backward()
    return y
run()  # compile numba kernels outside the timing
t = time.perf_counter(); c0 = time.process_time(); run(); dt = time.perf_counter() - t
RESULT = dict(seconds=dt, cpu_s=time.process_time() - c0, audio_s=n / sr)
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="shorter files (CI-sized smoke run)")
    args = ap.parse_args()
    long_s, mem_short, mem_long = (30, 10, 60) if args.quick else (180, 60, 600)
    out = "/tmp/automix-bench/out.wav"

    paths = ",".join(session(8, long_s))
    probe_before = contention_probe()
    floor = run_isolated(FLOOR, paths, out)
    r1 = run_isolated(RENDER, paths, out, 1)
    r2 = run_isolated(RENDER, paths, out, 2)
    rt = lambda r: r["audio_s"] / r["seconds"]
    cpu = lambda r: f"{r['audio_s'] / r['cpu_s']:.1f}x" if r.get("cpu_s") else ""
    rows = [
        [f"floor: read 8 stems + sum + write 24-bit ({long_s} s)", f"{rt(floor):.0f}x", cpu(floor), "1.00",
         f"{floor['peak_rss_mb']:.0f}"],
        ["production render (pedalboard, EQ cascade), strip + master + true-peak limiter, 1 thread", f"{rt(r1):.1f}x", cpu(r1),
         f"{rt(r1) / rt(floor):.2f}", f"{r1['peak_rss_mb']:.0f}"],
        ["production render, same, 2 threads", f"{rt(r2):.1f}x", cpu(r2),
         f"{rt(r2) / rt(floor):.2f} ({rt(r2) / rt(r1):.2f} of 1 thread)", f"{r2['peak_rss_mb']:.0f}"],
    ]
    short = run_isolated(RENDER, ",".join(session(8, mem_short)), out, 1)
    long = run_isolated(RENDER, ",".join(session(8, mem_long)), out, 1)
    rows += [
        [f"production render peak RSS, 8 stems x {mem_short} s", f"{rt(short):.1f}x", cpu(short), "",
         f"{short['peak_rss_mb']:.0f}"],
        [f"production render peak RSS, 8 stems x {mem_long} s", f"{rt(long):.1f}x", cpu(long),
         f"RSS ratio {long['peak_rss_mb'] / short['peak_rss_mb']:.2f}", f"{long['peak_rss_mb']:.0f}"],
    ]
    fwd = run_isolated(TORCH, 0)
    bwd = run_isolated(TORCH, 1)
    rows += [
        ["torch engine forward, 8 stems x 10 s, 1 core", f"{rt(fwd):.1f}x", cpu(fwd),
         f"{rt(fwd) / rt(r1):.2f} of production", f"{fwd['peak_rss_mb']:.0f}"],
        ["torch engine forward+backward, 8 stems x 10 s, 1 core", f"{rt(bwd):.1f}x", cpu(bwd),
         f"{rt(bwd) / rt(fwd):.2f} of forward", f"{bwd['peak_rss_mb']:.0f}"],
    ]
    write_table("engines", ["measurement", "x real time", "per CPU s", "ratio", "peak RSS MB"], rows,
                notes=(contention_note(probe_before, contention_probe()),))


if __name__ == "__main__":
    main()
