"""Shared helpers for the benchmarks: cached synthetic sessions, timing, peak RSS of a child."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from automix.runtime import configure

configure()  # as the automix command does for its processes (and the ones the benches start)

import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402

CACHE = Path(os.environ.get("AUTOMIX_BENCH_CACHE", "/tmp/automix-bench"))


def session(n_stems: int, seconds: float, sample_rate: int = 44100) -> list[str]:
    """8 stereo 24-bit stems of ``seconds`` (a 12 s synthetic session tiled), cached on disk."""
    from automix.sessiongen import generate_stems

    folder = CACHE / f"s{n_stems}_{seconds:g}s_{sample_rate}"
    paths = [folder / f"stem{i}.wav" for i in range(n_stems)]
    if all(p.exists() for p in paths):
        return [str(p) for p in paths]
    folder.mkdir(parents=True, exist_ok=True)
    base = generate_stems(3, duration_s=12.0, sample_rate=sample_rate, n_stems=n_stems)
    n = int(seconds * sample_rate)
    for p, x in zip(paths, base.values()):
        x = np.repeat(x, 2, axis=0) if x.shape[0] == 1 else x
        with sf.SoundFile(str(p), "w", sample_rate, 2, "PCM_24") as f:
            done = 0
            while done < n:
                m = min(x.shape[1], n - done)
                f.write(x[:, :m].T)
                done += m
    return [str(p) for p in paths]


def mixed_session(root: Path, n_stems: int, seconds: float, threads: int = 2) -> tuple[list[str], Path]:
    """One generated session (seed 9001) written to ``root/stems`` and mixed to rock_punk into ``root/mix``
    (``mix.wav`` and its sidecars); returns ``(stem paths, the mix folder)``."""
    from automix.mixer import mix_session
    from automix.sessiongen import generate, write
    from automix.styles import get_style

    session = generate(9001, duration_s=seconds, n_stems=n_stems, sample_rate=44100)
    stems = [str(p) for p in write(session, root / "stems") if p.suffix == ".wav"]
    out = root / "mix"
    out.mkdir()
    mix_session(stems, style=get_style("rock_punk"), output=out / "mix.wav", settings_out=out / "mix.settings.json",
                report_out=out / "mix.report.json", views_out=out / "mix.views.json", threads=threads)
    return stems, out


#: ``peak_rss_mb()`` for a child process: its own peak (``VmHWM``), where ``ru_maxrss`` would start at what the
#: parent held when it forked (it survives ``exec``)
PEAK_RSS = """
def peak_rss_mb():
    try:
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith('VmHWM:'):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
"""


def run_isolated(code: str, *args) -> dict:
    """Run ``code`` (which sets ``RESULT``) in a fresh single-threaded Python; adds its own peak RSS in MB."""
    wrapper = (
        "import json, sys, runpy\n"
        "sys.argv = ['bench'] + sys.argv[1:]\n"
        f"exec(compile({code!r}, 'bench', 'exec'))\n"
        + PEAK_RSS +
        "print(json.dumps(dict(RESULT, peak_rss_mb=peak_rss_mb())))\n"
    )
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
               NUMBA_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "-c", wrapper, *map(str, args)], capture_output=True, text=True, env=env)
    if out.returncode:
        raise RuntimeError(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


SPIN = "import time\nt = time.perf_counter()\nx = 0\nfor i in range(20_000_000):\n    x += i\nprint(time.perf_counter() - t)\n"


def contention_probe() -> dict:
    """How busy the host is right now: throughput of 2 concurrent CPU-bound processes over 1
    (2.0 = two free cores, 1.0 = one core's worth) and the 1-minute load average."""
    def spin(n):
        procs = [subprocess.Popen([sys.executable, "-c", SPIN], stdout=subprocess.PIPE, text=True) for _ in range(n)]
        return max(float(p.communicate()[0]) for p in procs)

    one = spin(1)
    return {"scaling": 2 * one / spin(2), "load1": os.getloadavg()[0], "cores": os.cpu_count()}


def contention_note(before: dict, after: dict) -> str:
    """One line for a results table: the probe before and after the runs."""
    return (f"host contention probe (2 spinning processes / 1): {before['scaling']:.2f}x before, "
            f"{after['scaling']:.2f}x after the runs (2.00 = 2 free cores); load average {before['load1']:.1f} / "
            f"{after['load1']:.1f} on {before['cores']} cores. 'x real time' is wall clock; 'per CPU s' divides "
            f"by the CPU time the run used (less sensitive to other processes).")


def write_table(name: str, header: list[str], rows: list[list], notes: tuple[str, ...] = ()) -> str:
    """Markdown table, printed and saved as ``bench/results/<name>.md``."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    text = "\n".join(lines) + "\n"
    if notes:
        text += "\n" + "\n".join(notes) + "\n"
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / f"{name}.md").write_text(text)
    print(text)
    return text
