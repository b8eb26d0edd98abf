"""Batch runner benchmarks: throughput, dask vs loky, runner overhead, worker memory.

Run: ``python bench/bench_batch.py [--quick] [--process module:function]``.

* Throughput on 8 sessions (8 stems x 20 s each; hard links of one cached
  synthetic session): ``--jobs 2`` vs ``--jobs 1`` with warm workers (the
  steady state of a long nightly run) and cold (a fresh ``automix batch``
  process, worker start and imports included). Target >= 1.7x on 2 cores.
* dask: a LocalCluster with 2 single-threaded worker processes, configured as
  ``--backend dask`` configures its own (warm, via ``scheduler=``), vs loky with
  2 jobs. Target >= 0.9x. Also cold ``--backend dask`` (cluster start included).
* Runner overhead per session: the driver's discovery, fingerprint, up-front
  probe and ledger/report bookkeeping plus the worker's wrapper (marker,
  report write), as a share of the render (the process function's own time).
  Target <= 2%. The end-to-end figure (wall time of ``--jobs 1`` minus the
  sum of render times, per session) is reported as well.
* Peak RSS of the worker (its own ``VmHWM``, fresh ``automix batch --jobs 1``
  process each) for a 1-minute and a 10-minute session of 8 stems: bounded
  by the streaming render, not by the session length.

Sessions are rendered by the real mixer (``automix.mixer:mix_session``) unless
``--process`` names another function. Writes ``bench/results/batch.md``.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import CACHE, session, write_table  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


def in_dir(n_sessions: int, n_stems: int, seconds: float) -> Path:
    """``n_sessions`` session folders, each hard links to one cached session (no extra disk, no copy time)."""
    stems = session(n_stems, seconds)
    root = CACHE / f"batch_{n_sessions}x{n_stems}x{seconds:g}s"
    for k in range(n_sessions):
        folder = root / f"session {k:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        for p in stems:
            dst = folder / Path(p).name
            if not dst.exists():
                os.link(p, dst)
    return root


SPIN = "import time\nt = time.perf_counter()\nx = 0\nfor i in range(20_000_000):\n    x += i\nprint(time.perf_counter() - t)\n"


def cpu_scaling() -> float:
    """Throughput of 2 concurrent CPU-bound processes over 1: how many cores the host gives us right now."""
    def spin(n):
        procs = [subprocess.Popen([sys.executable, "-c", SPIN], stdout=subprocess.PIPE, text=True) for _ in range(n)]
        return max(float(p.communicate()[0]) for p in procs)

    one = spin(1)
    return 2 * one / spin(2)


def ledger_results(out: Path, run_id: str) -> list[dict]:
    from automix.batch.ledger import read_ledger

    return [e for e in read_ledger(out / "ledger.jsonl") if e["run"] == run_id and e["event"] == "result"]


def batch(root: Path, out: Path, **kw):
    from automix.batch.runner import run_batch

    t = time.perf_counter()
    result = run_batch(root, out, force=True, handle_signals=False, **kw)
    wall = time.perf_counter() - t
    assert result.exit_code == 0, result.table()
    return result, wall


def cli(root: Path, out: Path, *args) -> float:
    t = time.perf_counter()
    p = subprocess.run([sys.executable, "-m", "automix", "batch", str(root), "--out", str(out), "--force", *args],
                       cwd=REPO, capture_output=True, text=True)
    wall = time.perf_counter() - t
    if p.returncode:
        raise RuntimeError(p.stdout[-2000:] + p.stderr[-2000:])
    return wall


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="shorter sessions (8 x 8 stems x 6 s; 2-min memory run)")
    ap.add_argument("--process", default=None, help="module:function instead of the mixer")
    ap.add_argument("--style", default="rock_punk")
    ap.add_argument("--repeat", type=int, default=3, help="interleaved rounds of the warm measurements")
    ap.add_argument("--cold-repeat", type=int, default=2, help="interleaved rounds of the cold measurements")
    args = ap.parse_args()
    seconds, long_s = (6.0, 120.0) if args.quick else (20.0, 600.0)
    common = {"style": args.style, "process": args.process}
    extra = ["--style", args.style] + (["--process", args.process] if args.process else [])
    work = CACHE / "batch_out"
    med = lambda xs: sorted(xs)[len(xs) // 2]  # noqa: E731  (upper median)
    root = in_dir(8, 8, seconds)
    rows = []

    # -- cold: a fresh `automix batch` each (imports, JIT and worker start included), interleaved -----
    cold = []
    for k in range(args.cold_repeat):
        scaling = cpu_scaling()
        c1 = cli(root, work / "cold1", "--jobs", "1", *extra)
        c2 = cli(root, work / "cold2", "--jobs", "2", *extra)
        cd = None if args.quick else cli(root, work / "cold_dask", "--jobs", "2", "--backend", "dask", *extra)
        cold.append((c1, c2, cd, scaling))
        print(f"cold round {k}: jobs1 {c1:.1f} s, jobs2 {c2:.1f} s, dask {cd} s, CPU scaling {scaling:.2f}x",
              flush=True)

    # -- warm, interleaved: loky --jobs 1, loky --jobs 2, dask 2 workers, `repeat` rounds ------------
    # (the host's other tenants come and go: ratios are taken within a round, the median reported)
    from distributed import LocalCluster

    batch(root, work / "warm", jobs=2, **common)  # the loky pool (2 workers for --jobs 1 and 2) imports, JITs
    rounds = []
    import dask

    from automix.batch.executors import local_cluster_config

    with dask.config.set(local_cluster_config(1)), \
            LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster:
        batch(root, work / "dask_warm", scheduler=cluster.scheduler_address, **common)
        for k in range(args.repeat):
            scaling = cpu_scaling()
            r1, wall1 = batch(root, work / "loky1", jobs=1, **common)
            r2, wall2 = batch(root, work / "loky2", jobs=2, **common)
            rd, walld = batch(root, work / "dask2", scheduler=cluster.scheduler_address, **common)
            rounds.append((wall1, wall2, walld, scaling))
            print(f"round {k}: jobs1 {wall1:.1f} s, jobs2 {wall2:.1f} s, dask {walld:.1f} s, "
                  f"CPU scaling {scaling:.2f}x", flush=True)
    speedup = med([a / b for a, b, _, _ in rounds])
    dask_ratio = med([b / d for _, b, d, _ in rounds])
    wall1, wall2, walld = med([r[0] for r in rounds]), med([r[1] for r in rounds]), med([r[2] for r in rounds])

    n = len(r1.sessions)
    events = ledger_results(work / "loky1", r1.run_id)
    render = [e["process_seconds"] for e in events]
    wrapper = [e["seconds"] - e["process_seconds"] - e["setup_seconds"] for e in events]
    driver = r1.timings["driver_overhead_s"] / n
    mean_render = sum(render) / n
    overhead = (driver + sum(wrapper) / n) / mean_render
    last_wall1 = rounds[-1][0]  # the run `events` come from
    end_to_end = (last_wall1 - sum(render)) / n / mean_render

    rows.append(["CPU scaling of this host during the rounds: 2 spinning processes / 1",
                 ", ".join(f"{r[3]:.2f}" for r in rounds), f"{med([r[3] for r in rounds]):.2f}x", "(2.0 = 2 free cores)"])
    rows.append([f"throughput, warm: --jobs 1 / --jobs 2 (8 sessions, median of {len(rounds)})",
                 f"{wall1:.1f} s / {wall2:.1f} s", f"{speedup:.2f}x", ">= 1.7x"])
    cold1, cold2 = med([c[0] for c in cold]), med([c[1] for c in cold])
    rows.append([f"throughput, cold CLI: --jobs 1 / --jobs 2 (median of {len(cold)}; CPU scaling "
                 f"{', '.join(f'{c[3]:.2f}' for c in cold)})", f"{cold1:.1f} s / {cold2:.1f} s",
                 f"{med([c[0] / c[1] for c in cold]):.2f}x", "(imports, JIT, worker start included)"])
    rows.append(["dask LocalCluster 2 workers vs loky 2 jobs, warm (loky time / dask time)",
                 f"{walld:.1f} s vs {wall2:.1f} s", f"{dask_ratio:.2f}x", ">= 0.9x"])
    if not args.quick:
        cold_dask = med([c[2] for c in cold])
        rows.append(["dask vs loky, cold CLI (--backend dask starts the cluster)", f"{cold_dask:.1f} s vs {cold2:.1f} s",
                     f"{med([c[1] / c[2] for c in cold]):.2f}x", ""])
    rows.append(["runner overhead per session (driver + worker wrapper) / render",
                 f"{(driver + sum(wrapper) / n) * 1000:.1f} ms / {mean_render:.2f} s", f"{100 * overhead:.2f}%",
                 "<= 2%"])
    rows.append(["  driver: discovery, fingerprint, probe, ledger (per session)", f"{driver * 1000:.1f} ms", "", ""])
    rows.append(["  end to end: (wall --jobs 1 - sum of renders) / renders", f"{(last_wall1 - sum(render)) / n:.3f} s",
                 f"{100 * end_to_end:.2f}%", "(dispatch latency included)"])

    # -- memory: fresh process per session length -------------------------------------------------
    for label, secs in (("1 min", 60.0), (f"{long_s / 60:g} min", long_s)):
        root_m = in_dir(1, 8, secs)
        wall = cli(root_m, work / f"mem_{secs:g}", "--jobs", "1", *extra)
        rep = json.loads((work / f"mem_{secs:g}" / "session 00" / "report.json").read_text())
        rows.append([f"peak RSS of the worker, 8 stems x {label}", f"{rep['worker']['peak_rss_mb']:.0f} MB",
                     f"{secs * 8 / wall:.1f}x real time (8 stems)", "bounded"])

    header = ["measurement", "value", "ratio", "target"]
    text = write_table("batch", header, rows)
    meta = (f"\n{os.cpu_count()} CPUs; process {args.process or 'automix.mixer:mix_session'}; "
            f"sessions of 8 stems x {seconds:g} s; style {args.style}\n")
    with open(Path(__file__).parent / "results" / "batch.md", "a") as f:
        f.write(meta)
    print(meta)
    del text


if __name__ == "__main__":
    main()
