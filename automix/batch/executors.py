"""Where sessions run: joblib locally (loky by default), dask.distributed on a cluster.

Both executors take tasks (small dicts of paths, see :mod:`automix.batch.worker`)
and report every outcome through :class:`Hooks`; neither ever loses a task:
each ends as a worker result, a driver-decided failure (``crashed``, or
``failed`` with ``E_TIMEOUT`` / ``E_INTERNAL``), or, after a signal, in the
``unfinished`` list that :meth:`run` returns.

**Local** (:class:`JoblibExecutor`): ``joblib.Parallel`` in
``generator_unordered`` mode with ``batch_size=1``. No joblib backend is
named, so a library caller's ``joblib.parallel_config(backend=...)`` applies;
the default is loky (worker processes). ``n_jobs`` is at least 2 so sessions
never run in the driver process (joblib runs ``n_jobs=1`` in-process, where a
segfault would kill the runner); concurrency is set by ``pre_dispatch``.
Facts this is built on (measured with joblib's loky backend): a native crash kills every
session in flight and breaks the pool. The worker's in-flight markers tell
which sessions were running; if several were, each is re-run *alone* and
only a session that crashes alone counts a crash; after ``retries + 1``
crashes alone it is ``crashed`` (``E_WORKER_CRASH``). Bystanders just
run again. A session running longer than ``timeout`` is stopped by killing
its worker process (``failed``, ``E_TIMEOUT``; the sessions it took down
with it run again, uncharged).

**Cluster** (:class:`DaskExecutor`): dask.distributed's own futures,
``Client.submit(run_session, task, pure=False, retries=R)`` and
``as_completed`` (not joblib's dask bridge: it hangs when a task kills its
workers and ignores retries). A worker that dies is rescheduled by dask;
a task on whose watch workers died more than ``allowed-failures`` times ends
in ``KilledWorker``. The LocalCluster started here (``--backend dask``
without ``--scheduler``) has single-threaded workers, ``worker-saturation``
1.0 (a worker holds only the task it runs, so a dying worker charges no
bystander) and ``allowed-failures = retries``: a crashing session dies
``retries + 1`` times, alone each time, and is then ``crashed``. On an
existing cluster its own settings apply (dask's default ``allowed-failures``
is 3, and tasks queued on a dying worker are charged too), so a
``KilledWorker`` session is re-run alone after the others before it is
``crashed``. That LocalCluster also runs its workers without dask's
``MALLOC_TRIM_THRESHOLD_`` and statistical profiler (see
:func:`local_cluster_config`: together they made sessions ~1.7x slower than in
loky). A timed-out session's future is cancelled and its worker
process ended (``os._exit`` run on it; its nanny starts a fresh one).
"""
from __future__ import annotations

import os
import signal
import threading
import time
import uuid
from collections import Counter, deque
from typing import Protocol

from automix.errors import InfrastructureError
from automix.batch.worker import BatchTask, check_access, read_marker, run_session

__all__ = ["Hooks", "JoblibExecutor", "DaskExecutor", "make_executor", "local_cluster_config"]

POLL_S = 0.1


class Hooks(Protocol):
    """What an executor reports to the runner (all called from the driver's main thread)."""

    def result(self, task: BatchTask, record: dict) -> None: ...

    def fail(self, task: BatchTask, status: str, code: str, reason: str) -> None: ...

    def crash(self, task: BatchTask, detail: str, alone: bool) -> None: ...

    def stopped(self) -> bool: ...


def _one_line(e: BaseException | str, limit: int = 300) -> str:
    text = " ".join(str(e).split())
    if isinstance(e, BaseException):
        text = f"{type(e).__name__}: {text}" if text else type(e).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _new_token(task: BatchTask) -> None:
    task.attempt = task.attempt + 1
    task.token = f"{task.index:05d}-{task.attempt}-{uuid.uuid4().hex[:8]}"


def _kill(pid: int | None) -> bool:
    if not pid or pid == os.getpid():
        return False  # in-process backends (threading): nothing we may kill
    try:
        os.kill(pid, signal.SIGKILL)
        return True
    except OSError:
        return False


def _death_detail(e: BaseException) -> str:
    """Short description of a worker death (loky names the exit codes: ``{SIGSEGV(-11)}``)."""
    import re

    m = re.search(r"exit codes of the workers are (\{[^}]*\})", str(e))
    return f"worker exit code(s) {m.group(1)}" if m else _one_line(e, 160)


def _is_worker_death(e: BaseException | None) -> bool:
    if e is None:
        return False
    names = {c.__name__ for c in type(e).__mro__}
    return bool(names & {"TerminatedWorkerError", "BrokenProcessPool", "BrokenExecutor", "ShutdownExecutorError"})


class JoblibExecutor:
    """Local sessions through ``joblib.Parallel`` (loky unless the caller configured another backend)."""

    name = "loky"

    def __init__(self, jobs: int, *, retries: int = 1, timeout: float | None = None):
        self.jobs = max(1, int(jobs))
        self.retries = max(0, int(retries))
        self.timeout = timeout

    def preflight(self, in_dir: str, out_dir: str, sample: str | None) -> None:
        r = check_access(in_dir, out_dir, sample)
        if r["problems"]:
            raise InfrastructureError("; ".join(r["problems"]))

    def close(self) -> None:
        pass

    def run(self, tasks: list[dict], hooks: Hooks) -> list[dict]:
        """Run every task; returns the tasks left unfinished by a stop request."""
        queue: deque[dict] = deque(tasks)
        solo: deque[dict] = deque()
        crashes: Counter[str] = Counter()
        unfinished: list[dict] = []
        while (queue or solo) and not hooks.stopped():
            if solo:
                wave, concurrency = [solo.popleft()], 1
            else:
                wave, concurrency = list(queue), self.jobs
                queue.clear()
            unfinished += self._wave(wave, concurrency, hooks, crashes, queue, solo)
        return unfinished + list(solo) + list(queue)

    def _wave(self, wave: list[dict], concurrency: int, hooks: Hooks, crashes: Counter,
              queue: deque, solo: deque) -> list[dict]:
        from joblib import Parallel, delayed

        for t in wave:
            _new_token(t)
        remaining = {t.token: t for t in wave}
        markers: dict[str, dict] = {}
        timed_out: set[str] = set()
        killed = threading.Event()
        killed_pids: set[int] = set()
        done = threading.Event()
        state_dir = wave[0].state_dir

        def kill(pid):
            if pid in killed_pids:
                return
            killed_pids.add(pid)
            if _kill(pid):
                killed.set()

        seen: dict[str, float] = {}  # driver clock when a task's marker first appeared

        def watchdog():
            while not done.wait(POLL_S):
                now = time.monotonic()
                for token in [t for t in list(dispatched) if t in remaining]:
                    m = markers.get(token) or read_marker(state_dir, token)
                    if m is None:
                        continue
                    markers[token] = m
                    seen.setdefault(token, now)
                    if hooks.stopped():
                        kill(m.get("pid"))
                    elif self.timeout and now - seen[token] > self.timeout and token not in timed_out:
                        timed_out.add(token)
                        kill(m.get("pid"))

        dispatched: list[str] = []  # handed to joblib (it may hold a few before a worker takes them)

        def dispatch():
            for t in wave:
                if hooks.stopped():
                    return  # stop dispatching
                dispatched.append(t.token)
                yield delayed(run_session)(t)

        guard = threading.Thread(target=watchdog, name="automix-batch-watchdog", daemon=True)
        guard.start()
        error: BaseException | None = None
        hook_error: BaseException | None = None
        try:
            parallel = Parallel(n_jobs=max(2, self.jobs), pre_dispatch=concurrency, batch_size=1,
                                return_as="generator_unordered")
            for record in parallel(dispatch()):
                task = remaining.pop(record["token"], None)
                if task is None:
                    continue
                try:
                    hooks.result(task, record)
                except BaseException as e:  # the driver's own bookkeeping failed (ledger not writable)
                    hook_error = e
                    break
        except BaseException as e:  # a worker died (or we killed it), or a signal arrived
            error = e
        finally:
            done.set()
            guard.join()
        if hook_error is not None:
            raise hook_error

        unfinished, suspects, not_started = [], [], []
        for token, task in remaining.items():
            if token in timed_out:
                hooks.fail(task, "failed", "E_TIMEOUT",
                           f"still running after {self.timeout:g} s (--timeout); its worker was stopped")
            elif hooks.stopped():
                unfinished.append(task)
            elif token in markers or read_marker(state_dir, token) is not None:
                suspects.append(task)
            else:
                not_started.append(task)
        if hooks.stopped() or not remaining:
            return unfinished
        if error is not None and not _is_worker_death(error) and not killed.is_set():
            if isinstance(error, KeyboardInterrupt):
                raise error
            # not a crash (e.g. the process function cannot be pickled): explain, do not loop
            for task in suspects + not_started:
                hooks.fail(task, "failed", "E_INTERNAL", f"could not run on a worker: {_one_line(error)}")
            return unfinished
        queue.extendleft(reversed(not_started))
        if killed.is_set() or error is None:
            queue.extendleft(reversed(suspects))  # bystanders of a kill we made: run again, uncharged
            return unfinished
        detail = _death_detail(error)
        if not suspects:  # died before any marker was written: isolate everything left
            solo.extend(queue)
            queue.clear()
            return unfinished
        alone = concurrency == 1 or len(suspects) == 1
        for task in suspects:
            hooks.crash(task, detail, alone)
            if not alone:
                solo.append(task)  # re-run alone to tell the culprit from bystanders
                continue
            crashes[task.session] += 1
            if crashes[task.session] > self.retries:
                hooks.fail(task, "crashed", "E_WORKER_CRASH",
                           f"its worker died {crashes[task.session]} time(s) running it alone ({detail}); "
                           "likely a native crash or out of memory")
            else:
                solo.append(task)
        return unfinished


def local_cluster_config(retries: int) -> dict:
    """dask settings for the LocalCluster started by ``--backend dask``.

    * ``allowed-failures = retries``: a session whose worker dies ``retries + 1`` times is ``KilledWorker``.
    * ``worker-saturation = 1``: a worker holds only the task it runs, so a dying worker charges no bystander.
    * no ``MALLOC_TRIM_THRESHOLD_`` in the workers' environment and no statistical profiler: measured
      on the mixer, each alone makes a session ~1.6-2x slower than in a loky worker (the fixed trim
      threshold disables glibc's adaptive mmap threshold, so every 1 MB block buffer is a fresh mmap;
      the profiler thread samples the stack every 10 ms and convoys the GIL with pedalboard/numpy
      calls that release it). Recommended for any cluster that runs automix.
    """
    import dask

    environ = {k: v for k, v in (dask.config.get("distributed.nanny.pre-spawn-environ", None) or {}).items()
               if k != "MALLOC_TRIM_THRESHOLD_"}
    return {"distributed.scheduler.allowed-failures": retries,
            "distributed.scheduler.worker-saturation": 1.0,
            "distributed.nanny.pre-spawn-environ": environ,
            "distributed.worker.profile.enabled": False}


class DaskExecutor:
    """Sessions on dask.distributed: an existing scheduler, or a LocalCluster started here."""

    name = "dask"

    def __init__(self, jobs: int, *, scheduler: str | None = None, retries: int = 1, timeout: float | None = None,
                 connect_timeout: float = 10.0):
        try:
            import dask
            from distributed import Client, LocalCluster
        except ImportError:
            from automix.errors import UsageError

            raise UsageError("--backend dask needs dask.distributed: pip install 'automix[dask]'") from None
        self.retries = max(0, int(retries))
        self.timeout = timeout
        self.cluster = None
        self.client = None
        self._seen: dict[tuple, float] = {}
        self._last_check = 0.0
        self.scheduler = scheduler
        try:
            if scheduler:
                self.client = Client(scheduler, timeout=connect_timeout, set_as_default=False)
            else:
                import logging

                with dask.config.set(local_cluster_config(self.retries)):
                    self.cluster = LocalCluster(n_workers=max(1, int(jobs)), threads_per_worker=1, processes=True,
                                                dashboard_address=":0", silence_logs=logging.CRITICAL)
                self.client = Client(self.cluster, set_as_default=False)
        except (OSError, TimeoutError) as e:
            self.close()
            raise InfrastructureError(f"cannot reach the dask scheduler at {scheduler or 'a LocalCluster'}: "
                                      f"{_one_line(e)}; check the address and that the scheduler is running") from None
        except Exception as e:  # LocalCluster/Nanny start failures surface as RuntimeError
            self.close()
            raise InfrastructureError(f"cannot start dask ({_one_line(e)})") from None

    def close(self) -> None:
        for obj in (getattr(self, "client", None), self.cluster):
            if obj is not None:
                try:
                    obj.close()
                except Exception:
                    pass

    def preflight(self, in_dir: str, out_dir: str, sample: str | None) -> None:
        try:
            self.client.wait_for_workers(1, timeout=30)
            results = self.client.run(check_access, in_dir, out_dir, sample)
        except Exception as e:
            raise InfrastructureError(f"dask workers cannot run automix ({_one_line(e)}); install automix on "
                                      "every worker") from None
        bad = [f"{addr}: {'; '.join(r['problems'])}" for addr, r in results.items() if r["problems"]]
        if bad:
            raise InfrastructureError("workers cannot see the paths: " + " | ".join(bad)
                                      + "; put IN_DIR and OUT_DIR on storage every worker mounts at the same path")

    def run(self, tasks: list[dict], hooks: Hooks) -> list[dict]:
        suspects: list[dict] = []
        # our LocalCluster runs one task per single-threaded worker: a KilledWorker there is the culprit;
        # elsewhere bystanders queued on a dying worker are charged too, so confirm alone
        unfinished = self._run(tasks, hooks, suspects, confirm=self.cluster is None)
        for task in suspects:  # re-run alone: nothing else is in flight now
            if hooks.stopped():
                unfinished.append(task)
                continue
            again: list[dict] = []
            unfinished += self._run([task], hooks, again, confirm=False)
        return unfinished

    def _run(self, tasks: list[dict], hooks: Hooks, suspects: list[dict], confirm: bool) -> list[dict]:
        from distributed import as_completed

        futures = {}
        for t in tasks:
            _new_token(t)
            f = self.client.submit(run_session, t, pure=False, retries=self.retries, key=f"automix-{t.token}")
            futures[f.key] = (f, t)
        pending = dict(futures)
        ac = as_completed([f for f, _ in futures.values()], loop=self.client.loop)
        timed_out: set[str] = set()
        state_dir = tasks[0].state_dir if tasks else ""
        while pending:
            if hooks.stopped():
                self.client.cancel([f for f, _ in pending.values()])
                return [t for _, t in pending.values()]
            batch = ac.next_batch(block=False)
            if not batch:
                self._check_timeouts(pending, timed_out, hooks, state_dir)
                time.sleep(POLL_S)
                continue
            for f in batch:
                if f.status in ("lost", "pending"):
                    # done, then its result died with its worker before we fetched it: dask recomputes it
                    # (outputs are idempotent); wait for it again
                    if f.key in pending:
                        ac.add(f)
                    continue
                entry = pending.pop(f.key, None)
                if entry is None or f.key in timed_out:
                    continue
                task = entry[1]
                if f.status == "finished":
                    record = f.result()
                    f.release()  # let the cluster forget it: a result held on a worker can be lost with it
                    hooks.result(task, record)
                elif f.status == "error":
                    exc = f.exception()
                    if type(exc).__name__ == "KilledWorker":
                        hooks.crash(task, _one_line(exc), alone=not confirm)
                        if confirm:
                            suspects.append(task)
                        else:
                            import re

                            m = re.search(r"on (\d+) different workers", str(exc))
                            times = f"{m.group(1)} times" if m else "each time"
                            hooks.fail(task, "crashed", "E_WORKER_CRASH",
                                       f"its worker died {times} running it (dask KilledWorker); likely a native "
                                       "crash or out of memory")
                    else:
                        hooks.fail(task, "failed", "E_INTERNAL", f"could not run on a worker: {_one_line(exc)}")
                else:  # cancelled or lost by the scheduler
                    hooks.fail(task, "failed", "E_INTERNAL", f"the scheduler dropped the task ({f.status})")
        return []

    def _check_timeouts(self, pending: dict, timed_out: set, hooks: Hooks, state_dir: str) -> None:
        if not self.timeout:
            return
        now = time.monotonic()  # the driver's clock: worker hosts' clocks may disagree
        if now - self._last_check < 1.0:
            return
        self._last_check = now
        try:
            running = {k for keys in self.client.processing().values() for k in keys}
        except Exception:
            return
        for key, (f, task) in list(pending.items()):
            if key not in running:
                continue
            m = read_marker(state_dir, task.token)
            if m is None:
                continue
            first = self._seen.setdefault((task.token, m.get("worker"), m.get("started")), now)
            if now - first <= self.timeout or key in timed_out:
                continue
            timed_out.add(key)
            f.cancel()
            pending.pop(key)
            hooks.fail(task, "failed", "E_TIMEOUT",
                       f"still running after {self.timeout:g} s (--timeout); its worker was stopped")
            if m.get("worker"):
                try:  # a hung task cannot be stopped inside its thread: end its worker process (the nanny restarts it)
                    self.client.run(os._exit, 1, workers=[m["worker"]], on_error="ignore")
                except Exception:
                    pass


def make_executor(backend: str, jobs: int, *, scheduler: str | None, retries: int, timeout: float | None,
                  connect_timeout: float = 10.0):
    if backend == "dask":
        return DaskExecutor(jobs, scheduler=scheduler, retries=retries, timeout=timeout,
                            connect_timeout=connect_timeout)
    return JoblibExecutor(jobs, retries=retries, timeout=timeout)
