"""Evaluate the vaults of a large estate in forked worker processes (Linux/macOS, CLI runs).

The estate and its access index are built once; ``fork`` gives every worker a copy-on-write view
of them, so nothing is pickled on the way in. The sorted vault list is cut into contiguous runs,
one per worker; each worker evaluates its run exactly as a single process would and writes its
findings spools, migration plans and the rest to files in a private temporary folder. The parent
attaches the spools in run order, so the findings stay in report order without a merge sort.
The parent does not wait idle: it evaluates the first run itself, shortened so that it also has
time for the estate-level rules (into a part of their own, attached last, where a single process
adds them). One process fewer is forked than there are runs, which also saves memory: the pages a
forked worker touches are copied. A worker that fails has its run evaluated again by the parent:
parallelism is an optimisation, never a source of gaps.
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


def configured_workers() -> int | None:
    """``KV_AUDIT_WORKERS`` (processes for the vault pass and for big spreadsheet tables), if set."""
    configured = os.environ.get("KV_AUDIT_WORKERS")
    if not configured:
        return None
    try:
        return max(1, int(configured.strip()))
    except ValueError:
        from audit_function.errors import ConfigError

        raise ConfigError(f"KV_AUDIT_WORKERS={configured!r}: expected a whole number of worker processes "
                          "(1 or more)") from None


def default_workers(vault_count: int) -> int:
    """Workers for an estate: ``KV_AUDIT_WORKERS`` if set, else one per CPU (at most 4) when large."""
    configured = configured_workers()
    if configured is not None:
        return configured
    if not hasattr(os, "fork"):
        return 1
    return max(1, min(os.cpu_count() or 1, 4, vault_count // MIN_VAULTS_PER_WORKER))


def wait_all(children: list[int], stop: bool = False) -> list[int]:
    """Wait for every worker; the pids that failed. Interrupted (Ctrl-C, SIGTERM), or ``stop`` (the
    parent's own part failed): the workers still running are terminated and reaped before the
    interruption goes on, so none is orphaned."""
    failed, waiting = [], list(children)
    try:
        if stop:
            raise _Stop
        while waiting:
            pid = waiting[0]
            if os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) != 0:
                failed.append(pid)
            waiting.pop(0)
    except BaseException as exc:
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
        if isinstance(exc, _Stop):
            return []
        raise
    return failed


class _Stop(Exception):
    """Internal: stop the workers without waiting for them to finish."""


#: the estate-level rules' share of the work, as a fraction of the vault pass's (measured on the
#: benchmark estate: about 5 s against 50 s); the parent's own run is shortened by it
ESTATE_SHARE = 0.1


def split(vaults: list, workers: int, estate_rules: bool) -> list[list]:
    """Contiguous runs, one per process; the first (the parent's, which also evaluates the estate-level
    rules) shorter so that every process has about the same work."""
    if workers <= 1:
        return [vaults]
    share = ESTATE_SHARE if estate_rules else 0.0
    first = max(0, round(len(vaults) * ((1 + share) / workers - share)))
    rest = vaults[first:]
    size = -(-len(rest) // (workers - 1)) or 1
    return [vaults[:first]] + [rest[i:i + size] for i in range(0, len(rest), size)]


def evaluate_in_workers(job, vaults: list, out, workers: int, progress=None, also=None) -> None:
    """``job.run`` over ``vaults`` cut into ``workers`` runs, and ``also.run`` (the estate-level rules).

    The parent evaluates the first run into ``out`` and then ``also`` into a part of its own, while
    forked processes evaluate the other runs; the parts are absorbed after the parent's run (the
    other runs in order, then ``also``), so ``out`` ends exactly as one process would leave it. A
    process that fails has its run evaluated again here.
    """
    from audit_function.engine.findings import FindingStore

    runs = split(vaults, workers, also is not None)
    folder = tempfile.mkdtemp(prefix="kv-audit-workers-")
    try:
        gc.collect()
        gc.freeze()  # keep the collector from touching (and so copying) the shared estate's pages
        children: list[int | None] = []
        try:
            for n, run in enumerate(runs[1:], 1):
                try:
                    children.append(_fork(job, out, run, folder, n))
                except OSError as err:   # no process to be had (EAGAIN, ENOMEM): this process does the run
                    print(f"kv-audit: cannot start a worker process ({err}); evaluating its part in this process",
                          file=sys.stderr)
                    children.append(None)
            job.run(runs[0], out, progress and (lambda phase, **kw: progress(phase, text=(
                f"vaults: {kw['done']:,} of {len(runs[0]):,} in this process ({len(vaults):,} in "
                f"{len(runs)} processes)"))))
            estate = None
            if also is not None:   # into a part of its own: its findings and markers come last
                estate = type(out)(findings=FindingStore(tuple(d.branch() for d in out.findings.decorators),
                                                         directory=folder, tag="estate"),
                                   results={p.name: p.results(folder, f"estate-{p.name}") for p in job.passes})
                also.run(estate)
                estate = _payload(estate, folder, "estate")
        except BaseException:
            wait_all([pid for pid in children if pid is not None], stop=True)
            raise
        failed = set(wait_all([pid for pid in children if pid is not None]))
        if failed:
            print(f"kv-audit: {len(failed)} worker process(es) failed; evaluating their part in this process",
                  file=sys.stderr)
        for n, (pid, run) in enumerate(zip(children, runs[1:]), 1):
            if pid is None or pid in failed:
                job.run(run, out)
                continue
            with open(f"{folder}/{n}.pickle", "rb") as handle:
                _absorb(out, pickle.load(handle))
        if estate is not None:
            _absorb(out, estate)
        if progress:
            progress("vaults", done=len(vaults), total=len(vaults), workers=len(runs))
    finally:
        gc.unfreeze()
        # the spool files stay open (attached) until the report is written; unlinked names are fine on POSIX
        shutil.rmtree(folder, ignore_errors=True)


def _payload(part, folder: str, tag: str) -> dict:
    """What a part hands over: its spools as files in ``folder``, its gaps, markers and pass results."""
    return {"findings": part.findings.export(folder, tag),
            "not_evaluated": part.not_evaluated, "gaps": part.gaps,
            "unknown_ancestry": part.unknown_ancestry,
            # each pass says how its results travel (passes.py): the parent absorbs them
            "results": {name: r.export(folder, f"{tag}-{name}") for name, r in part.results.items()}}


def _absorb(out, part: dict) -> None:
    out.findings.absorb(part["findings"])
    out.not_evaluated.extend(part["not_evaluated"])
    out.gaps.extend(part["gaps"])
    out.unknown_ancestry += part["unknown_ancestry"]
    for name, exported in part["results"].items():
        out.results[name].absorb(exported)


def _fork(job, out, run: list, folder: str, n: int) -> int:
    """Evaluate ``run`` into a fresh part in a forked process that writes the part to ``folder``; its pid."""
    from audit_function.engine.findings import FindingStore

    pid = os.fork()
    if pid:
        return pid
    code = 1
    try:
        part = type(out)(findings=FindingStore(out.findings.decorators, directory=folder, tag=str(n)),
                         results={p.name: p.results(folder, f"{n}-{p.name}") for p in job.passes})
        job.run(run, part)
        with open(f"{folder}/{n}.pickle", "wb") as handle:
            pickle.dump(_payload(part, folder, str(n)), handle, protocol=pickle.HIGHEST_PROTOCOL)
        code = 0
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM (cli.Terminated): the parent reports it
        code = 130
    except BaseException:  # noqa: BLE001 - report to the parent, never continue the parent's work
        traceback.print_exc(file=sys.stderr)
    finally:
        os._exit(code)
