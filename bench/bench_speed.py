"""Benchmark: ``automix mix`` end to end as a user runs it, against the IO floor and a mastering-only peer.

Run: ``python bench/bench_speed.py [--quick] [--before CHECKOUT]``. Every figure is a fresh process timed
from outside, start-up included, in one run:

* the IO floor: read the 8 stems, sum them, write the sum (what any tool pays to touch the session);
* ``automix mix`` on the session folder with ``--threads 1`` and ``--threads 2`` (the report's stage
  timings give the profile);
* matchering 2.0 mastering the stems' equal-loudness sum to a reference (automix's own master of the
  session): a peer doing less work (no analysis, no mix), skipped without ``pip install matchering``;
* ``automix mix`` on a folder that does not exist (the input error) and ``automix --help``;
* peak RSS of ``automix mix`` on a 10-minute session.

The floor, the automix runs and matchering are run :data:`ROUNDS` times in turn and each keeps its fastest
run (a single run swings by 10-20% on a shared host).

``--before CHECKOUT`` also times ``automix mix`` from another checkout of the project (e.g. a ``git
worktree`` of an older revision) and adds its stage profile as a column. Writes ``bench/results/speed.md``
and ``bench/results/speed_profile.md``.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.bench_engines import FLOOR  # noqa: E402
from automix.runtime import BLAS_ENV, ENV  # noqa: E402
from bench.common import (CACHE, contention_note, contention_probe, run_isolated, session,  # noqa: E402
                          write_table)

#: matchering as a program of its own: timed from outside like automix, start-up and imports included
MATCHERING = """
import sys
import matchering as mg
mg.process(target=sys.argv[1], reference=sys.argv[2], results=[mg.pcm24(sys.argv[3])])
"""

#: runs of each compared row (floor, automix on one and two threads, before, matchering), interleaved
ROUNDS = 3
STAGES = ("probe_s", "analysis_s", "predict_s", "levels_s", "premaster_s", "tone_s", "master_s", "write_s")


#: a small launcher that runs a command and reports the operating system's account of it: the peak RSS of a
#: child forked from the bench itself would start at the bench's own (fork copies it; exec keeps the mark)
LAUNCH = """
import os, subprocess, sys, time
t = time.perf_counter()
child = subprocess.Popen(sys.argv[1:])
_, status, usage = os.wait4(child.pid, 0)
seconds = time.perf_counter() - t
print('RUSAGE', seconds, usage.ru_maxrss, usage.ru_utime + usage.ru_stime, os.waitstatus_to_exitcode(status),
      file=sys.stderr)
"""


def run_cli(tree: Path, *args: str, pristine: bool = False) -> dict:
    """``python -m automix ARGS`` run from ``tree`` (its own automix first on the path), as a user runs it, in a
    fresh process: wall seconds (start-up and exit included) and, as the operating system accounts the
    process, its peak RSS, the CPU time of all its threads and its exit code.
    ``pristine``: without the process settings this bench sets for itself (an older checkout gets its own)."""
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    if pristine:
        for name in (BLAS_ENV, ENV):
            env.pop(name, None)
    return launched([sys.executable, "-m", "automix", *args], cwd=tree, env=env)


def launched(argv: list[str], cwd: Path | None = None, env: dict | None = None) -> dict:
    """``argv`` in a fresh process under :data:`LAUNCH`: wall seconds, peak RSS (MB), CPU seconds, exit code."""
    out = subprocess.run([sys.executable, "-c", LAUNCH, *map(str, argv)], cwd=cwd, env=env, capture_output=True,
                         text=True)
    last = out.stderr.strip().splitlines()[-1].split() if out.stderr.strip() else []
    if len(last) != 5 or last[0] != "RUSAGE":
        raise RuntimeError(out.stderr[-3000:])
    return {"seconds": float(last[1]), "peak_rss_mb": int(last[2]) / 1024.0, "cpu_s": float(last[3]),
            "exit": int(last[4]), "stderr": out.stderr}


def mix(tree: Path, folder: Path, out: Path, threads: int, pristine: bool = False) -> dict:
    r = run_cli(tree, "mix", str(folder), "--style", "rock_punk", "--output", str(out), "--threads", str(threads),
                "--quiet", pristine=pristine)
    if r["exit"] not in (0, 1):
        raise RuntimeError(r["stderr"][-3000:])
    report = json.loads(out.with_suffix(".report.json").read_text())
    return dict(r, timings=report["timings"], audio_s=report["duration_s"], status=report.get("status"))


def equal_loudness_sum(paths: list[str], out: Path) -> None:
    """The stems at equal integrated loudness, summed and scaled to peak at -1 dBFS (matchering's input)."""
    import numpy as np
    import soundfile as sf

    from automix.meters import analyze

    total = None
    for p in paths:
        x, sr = sf.read(p, dtype="float32", always_2d=True)
        lufs = analyze(x.T, sr)["integrated_lufs"]
        x = x * np.float32(10.0 ** ((-23.0 - lufs) / 20.0)) if np.isfinite(lufs) else x
        total = x if total is None else total + x
    total *= np.float32(10.0 ** (-1.0 / 20.0) / max(float(np.abs(total).max()), 1e-9))
    sf.write(str(out), total, sr, subtype="PCM_24")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="30 s and 60 s sessions instead of 180 s and 600 s")
    ap.add_argument("--before", type=Path, help="another checkout of the project to time as 'before'")
    args = ap.parse_args()
    long_s, mem_s = (30, 60) if args.quick else (180, 600)
    paths = session(8, long_s)
    folder = Path(paths[0]).parent
    work = Path(tempfile.mkdtemp(prefix="automix-speed-", dir=CACHE))
    probe_before = contention_probe()

    # numba compiles a kernel on its first call after a change (then loads it from its cache): one short mix per
    # checkout first, so that no timed row pays for compiling (or its memory)
    warm = Path(session(8, 5)[0]).parent
    for tree in [ROOT] + ([args.before.resolve()] if args.before else []):
        mix(tree, warm, work / "warm.wav", 1, pristine=tree != ROOT)
    # the rows compared with each other run ROUNDS times, interleaved, and each keeps its fastest run: one run
    # apiece swings by 10-20% on a shared host, more than the differences measured
    have_peer = importlib.util.find_spec("matchering") is not None
    runs: dict[str, list[dict]] = {"floor": [], "one": [], "two": [], "before": [], "peer": []}
    for _ in range(ROUNDS):
        runs["floor"].append(run_isolated(FLOOR, ",".join(paths), work / "floor.wav"))
        runs["one"].append(mix(ROOT, folder, work / "one.wav", 1))
        runs["two"].append(mix(ROOT, folder, work / "two.wav", 2))
        if args.before:
            runs["before"].append(mix(args.before.resolve(), folder, work / "before.wav", 2, pristine=True))
        if have_peer:
            if not (work / "sum.wav").exists():
                equal_loudness_sum(paths, work / "sum.wav")
            peer_env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
            runs["peer"].append(launched([sys.executable, "-c", MATCHERING, work / "sum.wav", work / "two.wav",
                                          work / "matchering.wav"], env=peer_env))
            if runs["peer"][-1]["exit"]:
                raise RuntimeError(runs["peer"][-1]["stderr"][-3000:])
    fastest = {k: min(v, key=lambda r: r["seconds"]) if v else None for k, v in runs.items()}
    floor, one, two, before, peer = (fastest[k] for k in ("floor", "one", "two", "before", "peer"))
    big_folder = Path(session(8, mem_s)[0]).parent
    big = mix(ROOT, big_folder, work / "big.wav", 2)  # the default on two cores: its peak is the higher
    error = min((run_cli(ROOT, "mix", str(work / "no-such-session"), "--style", "rock_punk", "--output",
                         str(work / "x.wav")) for _ in range(5)), key=lambda r: r["seconds"])
    assert error["exit"] == 2, error["stderr"]
    help_ = min((run_cli(ROOT, "--help") for _ in range(5)), key=lambda r: r["seconds"])
    audio = one["audio_s"]
    rt = lambda r: audio / r["seconds"]  # noqa: E731
    floor_rt = floor["audio_s"] / floor["seconds"]
    ratio = lambda r: f"{rt(r) / floor_rt:.3f}"  # noqa: E731
    cpu = lambda r: f"{r['cpu_s']:.2f}" if "cpu_s" in r else ""  # noqa: E731
    rows = [
        [f"IO floor: read 8 stems + sum + write ({long_s} s)", f"{floor['seconds']:.2f}", cpu(floor),
         f"{floor_rt:.0f}x", "1.000", f"{floor['peak_rss_mb']:.0f}", ""],
        [f"automix mix, 8 stems x {long_s} s, --threads 1", f"{one['seconds']:.2f}", cpu(one), f"{rt(one):.1f}x",
         ratio(one), f"{one['peak_rss_mb']:.0f}", ">= 18x (0.091 of the floor)"],
        [f"automix mix, 8 stems x {long_s} s, --threads 2", f"{two['seconds']:.2f}", cpu(two), f"{rt(two):.1f}x",
         ratio(two), f"{two['peak_rss_mb']:.0f}", ">= 30x (0.152 of the floor)"],
    ]
    if before is not None:
        rows.append([f"automix mix before ({args.before.name}), --threads 2", f"{before['seconds']:.2f}", cpu(before),
                     f"{rt(before):.1f}x", ratio(before), f"{before['peak_rss_mb']:.0f}", ""])
    if peer is not None:
        rows.append(["matchering 2.0: master the equal-loudness sum (peer, no mixing)", f"{peer['seconds']:.2f}",
                     cpu(peer), f"{rt(peer):.1f}x", ratio(peer), f"{peer['peak_rss_mb']:.0f}", "automix faster"])
    rows += [
        [f"automix mix, 8 stems x {mem_s} s, --threads 2 (memory)", f"{big['seconds']:.2f}", cpu(big),
         f"{big['audio_s'] / big['seconds']:.1f}x", "", f"{big['peak_rss_mb']:.0f}", "<= 300 MB"],
        ["automix mix on a missing folder (input error, exit 2)", f"{error['seconds']:.3f}", "", "", "", "", "< 0.3 s"],
        ["automix --help", f"{help_['seconds']:.3f}", "", "", "", "", "< 0.3 s"],
    ]
    notes = (f"The fastest of {ROUNDS} runs of each of the first rows, taken in turn (the memory and error rows: "
             "one run and the fastest of five). Each row is a fresh process timed from outside (interpreter start-up, imports and exit included; "
             "automix run as `python -m automix`, as the `automix` program runs); "
             "'ratio to floor' is the row's real-time factor over the floor's, measured in the same run. The "
             "target column reads the goals as ratios against a floor of 197x (the machine they were set on). "
             "'CPU s' is the CPU time of every thread of the run (automix's and matchering's, and their peak RSS, "
             "as the operating system accounts the process; the floor's from its first line of work): less "
             "disturbed than wall time by a busy host. matchering runs as a program of its own with one BLAS "
             "thread, timed like automix.",
             contention_note(probe_before, contention_probe()))
    write_table("speed", ["measurement", "wall s", "CPU s", "x real time", "ratio to floor", "peak RSS MB", "target"],
                rows,
                notes=notes)

    runs = ([("before, --threads 2", before)] if before is not None else []) + [("--threads 1", one),
                                                                               ("--threads 2", two)]
    profile = []
    for stage in STAGES + ("total_s",):
        profile.append([stage[:-2]] + [f"{r['timings'].get(stage, 0.0):.2f}" for _, r in runs])
    profile.append(["start-up and exit (wall - total)"] +
                   [f"{r['seconds'] - r['timings']['total_s']:.2f}" for _, r in runs])
    write_table("speed_profile", ["stage (s), 8 stems x %g s" % long_s] + [name for name, _ in runs], profile,
                notes=("From each run's report (timings). levels: every strip rendered to its fader and metered; "
                       "pre-master: the bus summed from those renders; master: the master loop's passes.",))


if __name__ == "__main__":
    main()
