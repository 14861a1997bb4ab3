"""``FindingStore.items`` / ``Spool.items``: a range of the stored elements, read at explicit offsets
(so forked processes can read the same spool files at once), equal to slicing the whole list."""

from __future__ import annotations

import os

from hypothesis import given, settings
from hypothesis import strategies as st

from audit_function.engine import findings as store_module
from audit_function.engine.findings import FindingStore, Spool, _pread_lines


def _finding(n: int, rule: str, severity: str, pad: int) -> dict:
    return {"fingerprint": f"{n:08x}", "severity": severity, "ruleId": rule, "subscriptionId": None,
            "vaultId": None, "n": n, "pad": "x" * pad}


@given(st.lists(st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"")), max_size=60),
       st.integers(0, 70), st.integers(1, 64))
@settings(max_examples=200, deadline=None)
def test_pread_lines_skips_then_yields_then_says_what_is_left(tmp_path_factory, lines, skip, chunk):
    path = tmp_path_factory.mktemp("lines") / "f"
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    fd = os.open(path, os.O_RDONLY)
    try:
        out = list(_pread_lines(fd, skip, size=chunk))
    finally:
        os.close(fd)
    assert out[:-1] == lines[skip:]
    assert out[-1] == max(0, skip - len(lines))


@given(st.lists(st.tuples(st.sampled_from(["high", "medium", "low"]), st.sampled_from(["a", "b", "c"]),
                          st.integers(0, 400)), max_size=120),
       st.integers(0, 130), st.integers(0, 130), st.integers(1, 3))
@settings(max_examples=60, deadline=None)
def test_items_is_a_slice_of_the_store(tmp_path_factory, specs, begin, length, pieces):
    folder = tmp_path_factory.mktemp("store")
    old = store_module.SPOOL_BYTES
    store_module.SPOOL_BYTES = 1_500   # some spools move to files, some stay in memory
    try:
        made = [_finding(n, rule, severity, pad) for n, (severity, rule, pad) in enumerate(specs)]
        store = FindingStore()
        cut = [len(made) * k // pieces for k in range(pieces + 1)]
        for k in range(pieces):   # parts as worker processes hand them over: files attached in order
            part = FindingStore(directory=str(folder), tag=str(k))
            for f in made[cut[k]:cut[k + 1]]:
                part._add(dict(f))
            store.absorb(part.export(str(folder), str(k)))
        whole = list(store)
        store.share()
        assert list(store.items(begin, begin + length)) == whole[begin:begin + length]
        spool = Spool()
        for f in made:
            spool.append(f)
        spool.share()
        assert list(spool.items(begin, begin + length)) == made[begin:begin + length]
        assert list(store) == whole   # sharing changed nothing for ordinary readers
    finally:
        store_module.SPOOL_BYTES = old


def test_items_flushes_what_this_process_wrote(tmp_path):
    old = store_module.SPOOL_BYTES
    store_module.SPOOL_BYTES = 1_000   # on disk, with the last writes still buffered
    try:
        made = [_finding(n, "a", "high", 37) for n in range(200)]
        store, spool, named = FindingStore(), Spool(), Spool(str(tmp_path / "named.jsonl"))
        for f in made:
            store._add(dict(f))
            spool.append(f)
            named.append(f)
        assert list(store.items(0, 500)) == made   # no share() called: items flushes
        assert list(spool.items(3, 500)) == made[3:]
        assert list(named.items(0, 500)) == made
    finally:
        store_module.SPOOL_BYTES = old
