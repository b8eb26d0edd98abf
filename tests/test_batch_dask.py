"""Batch runner on dask.distributed: a real LocalCluster with 2 single-threaded worker processes."""
from __future__ import annotations

import json
import time

import pytest
import soundfile as sf

pytest.importorskip("distributed")

from automix.errors import InfrastructureError  # noqa: E402
from automix.batch.ledger import read_ledger  # noqa: E402
from tests.test_batch import SR, report, run, session, statuses, targets, wav  # noqa: E402,F401


@pytest.fixture(scope="module")
def cluster():
    """An existing cluster (``--scheduler``): dask's own allowed-failures, lowered to 1 to keep tests fast."""
    import dask
    from distributed import LocalCluster

    with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
        c = LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=":0")
    yield c
    c.close()


def zoo_lite(root):
    for name in ("a", "b c", "é 🎵"):
        session(root, name)
    wav(root / "bad" / "x.wav")
    (root / "bad" / "y.wav").write_text("text")
    x = wav(root / "nan" / "x.wav", subtype="FLOAT")
    data, sr = sf.read(str(x))
    data[100, 0] = float("nan")
    sf.write(str(x), data, sr, subtype="FLOAT")
    wav(root / "nan" / "ok.wav")


def test_dask_results_identical_to_loky(tmp_path, targets, cluster):
    root = tmp_path / "in"
    zoo_lite(root)
    loky = run(root, tmp_path / "loky", targets)
    dask_ = run(root, tmp_path / "dask", targets, scheduler=cluster.scheduler_address)
    assert statuses(loky) == statuses(dask_) == {"a": ("ok", None), "b c": ("ok", None), "é 🎵": ("ok", None),
                                                 "bad": ("failed", "E_UNREADABLE"), "nan": ("failed", "E_NONFINITE")}
    assert loky.exit_code == dask_.exit_code == 1
    for name in ("a", "b c", "é 🎵"):
        assert (tmp_path / "loky" / name / "mix.wav").read_bytes() == (tmp_path / "dask" / name / "mix.wav").read_bytes()
        r = report(tmp_path / "dask", name)
        assert r["worker"]["dask_worker"] and r["fingerprint"] == report(tmp_path / "loky", name)["fingerprint"]
    # resume works across backends
    assert run(root, tmp_path / "dask", targets, scheduler=cluster.scheduler_address).counts["skipped"] == 3


def test_dask_worker_killed_mid_task_still_yields_every_session(tmp_path, targets, cluster):
    root = tmp_path / "in"
    session(root, "killed once", script={"sleep": 0.3, "crash": "kill", "crash_once": str(tmp_path / "flag")})
    for k in range(3):
        session(root, f"s{k}", script={"sleep": 0.3})
    result = run(root, tmp_path / "out", targets, scheduler=cluster.scheduler_address)
    assert (tmp_path / "flag").exists()  # the worker really died once
    assert result.exit_code == 0 and result.counts["ok"] == 4


def test_dask_hung_session_times_out(tmp_path, targets, cluster):
    root = tmp_path / "in"
    session(root, "hang", script={"hang": True})
    session(root, "fine")
    t0 = time.monotonic()
    result = run(root, tmp_path / "out", targets, scheduler=cluster.scheduler_address, timeout=2.0)
    assert time.monotonic() - t0 < 30
    assert statuses(result) == {"hang": ("failed", "E_TIMEOUT"), "fine": ("ok", None)}
    # the restarted worker serves the next run
    assert run(root, tmp_path / "out2", targets, scheduler=cluster.scheduler_address,
               timeout=2.0).counts["ok"] == 1


def test_dask_workers_that_cannot_see_the_paths(tmp_path, cluster):
    from automix.batch.executors import DaskExecutor

    ex = DaskExecutor(2, scheduler=cluster.scheduler_address)
    try:
        with pytest.raises(InfrastructureError, match="workers cannot see the paths"):
            ex.preflight(str(tmp_path / "not there"), str(tmp_path / "out"), None)
        ex.preflight(str(tmp_path), str(tmp_path / "out"), None)  # and passes when they can
    finally:
        ex.close()


def test_dask_local_cluster_always_crashing_session_ends_crashed_in_seconds(tmp_path, targets):
    """``--backend dask`` without a scheduler: our own LocalCluster (2 worker processes)."""
    root = tmp_path / "in"
    session(root, "segfault", script={"crash": "segv"})
    session(root, "flaky", script={"sleep": 0.2, "crash": "abort", "crash_once": str(tmp_path / "flag")})
    session(root, "fine", script={"sleep": 0.2})
    t0 = time.monotonic()
    result = run(root, tmp_path / "out", targets, backend="dask", retries=1)
    assert time.monotonic() - t0 < 45
    assert statuses(result) == {"segfault": ("crashed", "E_WORKER_CRASH"), "flaky": ("ok", None),
                                "fine": ("ok", None)}
    assert "2 times" in report(tmp_path / "out", "segfault")["reason"]
    events = list(read_ledger(tmp_path / "out" / "ledger.jsonl"))
    assert events[0]["backend"] == "dask" and events[-1]["exit_code"] == 1
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["counts"]["crashed"] == 1
