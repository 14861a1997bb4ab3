"""Evaluate the vaults of a large estate in forked worker processes (Linux/macOS, CLI runs).

The estate and its access index are built once; ``fork`` gives every worker a copy-on-write view
of them, so nothing is pickled on the way in. The sorted vault list is cut into contiguous runs,
one per worker; each worker evaluates its run exactly as a single process would and writes its
findings spools, migration plans and the rest to files in a private temporary folder. The parent
attaches the spools in run order, so the findings stay in report order without a merge sort.
The estate-level rules run in one more process at the same time (the parent would otherwise wait
idle for the vault runs and then evaluate them alone); their part is attached last, where a
single process adds them.

A worker that fails makes the parent evaluate everything itself: parallelism is an optimisation,
never a source of gaps.
"""

from __future__ import annotations

import gc
import os
import pickle
import shutil
import signal
import sys
import tempfile
import traceback

MIN_VAULTS_PER_WORKER = 10_000


def default_workers(vault_count: int) -> int:
    """Workers for an estate: ``KV_AUDIT_WORKERS`` if set, else one per CPU (at most 4) when large."""
    configured = os.environ.get("KV_AUDIT_WORKERS")
    if configured:
        try:
            return max(1, int(configured.strip()))
        except ValueError:
            from audit_function.errors import ConfigError

            raise ConfigError(f"KV_AUDIT_WORKERS={configured!r}: expected a whole number of worker processes "
                              "(1 or more)") from None
    if not hasattr(os, "fork"):
        return 1
    return max(1, min(os.cpu_count() or 1, 4, vault_count // MIN_VAULTS_PER_WORKER))


def _wait(children: list[int]) -> list[int]:
    """Wait for every worker; the pids that failed. Interrupted (Ctrl-C, SIGTERM): the workers
    still running are terminated and reaped before the interruption goes on, so none is orphaned."""
    failed, waiting = [], list(children)
    try:
        while waiting:
            pid = waiting[0]
            if os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) != 0:
                failed.append(pid)
            waiting.pop(0)
    except BaseException:
        for pid in waiting:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for pid in waiting:
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
        raise
    return failed


def evaluate_in_workers(job, vaults: list, out, workers: int, progress=None, also=None) -> None:
    """``job.run`` over ``vaults`` in ``workers`` forked processes, and ``also.run`` (the estate-level
    rules) in one more beside them; the parts are absorbed in that order (vault runs, then ``also``)."""
    from audit_function.engine.findings import FindingStore

    size = -(-len(vaults) // workers)
    runs = [vaults[i:i + size] for i in range(0, len(vaults), size)]
    tasks = [lambda part, run=run: job.run(run, part) for run in runs] + ([also.run] if also is not None else [])
    folder = tempfile.mkdtemp(prefix="kv-audit-workers-")
    try:
        gc.collect()
        gc.freeze()  # keep the collector from touching (and so copying) the shared estate's pages
        children = []
        for n, task in enumerate(tasks):
            pid = os.fork()
            if pid == 0:  # worker
                code = 1
                try:
                    part = type(out)(findings=FindingStore(out.findings.decorators, directory=folder, tag=str(n)),
                                     results={p.name: p.results(folder, f"{n}-{p.name}") for p in job.passes})
                    task(part)
                    payload = {"findings": part.findings.export(folder, str(n)),
                               "not_evaluated": part.not_evaluated, "gaps": part.gaps,
                               "unknown_ancestry": part.unknown_ancestry,
                               # each pass says how its results travel (passes.py): the parent absorbs them
                               "results": {name: r.export(folder, f"{n}-{name}") for name, r in part.results.items()}}
                    with open(f"{folder}/{n}.pickle", "wb") as handle:
                        pickle.dump(payload, handle, protocol=pickle.HIGHEST_PROTOCOL)
                    code = 0
                except KeyboardInterrupt:  # Ctrl-C or SIGTERM (cli.Terminated): the parent reports it
                    code = 130
                except BaseException:  # noqa: BLE001 - report to the parent, never continue the parent's work
                    traceback.print_exc(file=sys.stderr)
                finally:
                    os._exit(code)
            children.append(pid)
        failed = _wait(children)
        if failed:
            print(f"kv-audit: {len(failed)} worker process(es) failed; evaluating in one process", file=sys.stderr)
            job.run(vaults, out, progress)
            if also is not None:
                also.run(out)
            return
        for n in range(len(tasks)):
            with open(f"{folder}/{n}.pickle", "rb") as handle:
                part = pickle.load(handle)
            out.findings.absorb(part["findings"])
            out.not_evaluated.extend(part["not_evaluated"])
            out.gaps.extend(part["gaps"])
            out.unknown_ancestry += part["unknown_ancestry"]
            for name, exported in part["results"].items():
                out.results[name].absorb(exported)
        if progress:
            progress("vaults", done=len(vaults), total=len(vaults), workers=len(runs))
    finally:
        gc.unfreeze()
        # the spool files stay open (attached) until the report is written; unlinked names are fine on POSIX
        shutil.rmtree(folder, ignore_errors=True)
