"""Upload one streamed file as a block blob without holding it in memory whole.

The file's chunks are cut into blocks of ``block_size`` bytes; each block is staged (Put Block)
as soon as it is full and dropped, and the blob appears only when the block list is committed
(Put Block List), so memory stays at about one block however large the report, and a failed
upload leaves no blob (staged blocks that are never committed are not readable, and the service
discards them). A file smaller than one block is one Put Blob, as before.
"""

from __future__ import annotations

import base64
import tempfile
import uuid
from collections.abc import Callable, Iterable
from typing import Any

#: 8 MiB blocks: a 1 GB report is 128 Put Block requests (a block blob holds up to 50,000 blocks).
BLOCK_SIZE = 8 * 1024 * 1024


def _blocks(chunks: Iterable[bytes], size: int):
    """The bytes of ``chunks`` regrouped into blocks of exactly ``size`` (the last one shorter)."""
    buf = bytearray()
    for chunk in chunks:
        buf += chunk
        while len(buf) >= size:
            yield bytes(buf[:size])
            del buf[:size]
    if buf:
        yield bytes(buf)


def upload_chunks(container: Any, blob: str, chunks: Iterable[bytes], *, overwrite: bool, metadata: dict,
                  content_settings: Any, block_size: int = BLOCK_SIZE) -> int:
    """Upload ``chunks`` to ``blob``; returns the number of blocks staged (0: one Put Blob).

    ``overwrite=False`` never replaces an existing blob: checked before the first block and again,
    atomically, on the commit (If-None-Match: *)."""
    from azure.core import MatchConditions
    from azure.core.exceptions import ResourceExistsError

    client = container.get_blob_client(blob)
    blocks = _blocks(chunks, block_size)
    first = next(blocks, b"")
    second = next(blocks, None)
    if second is None:  # fits in one block: a single Put Blob, whole or not at all
        client.upload_blob(first, overwrite=overwrite, metadata=metadata, content_settings=content_settings)
        return 0
    if not overwrite and client.exists():
        raise ResourceExistsError(f"The specified blob already exists: {blob} (BlobAlreadyExists)")
    run = uuid.uuid4().hex[:16]  # ids unique to this upload, all of the same length
    ids: list[str] = []

    def stage(data: bytes) -> None:
        block_id = base64.b64encode(f"{run}-{len(ids):08d}".encode()).decode()
        client.stage_block(block_id, data, length=len(data))
        ids.append(block_id)

    stage(first)
    del first
    stage(second)
    del second
    for data in blocks:
        stage(data)
    conditions = {} if overwrite else {"match_condition": MatchConditions.IfMissing}  # If-None-Match: *
    client.commit_block_list(ids, metadata=metadata, content_settings=content_settings, **conditions)
    return len(ids)


def pinned_reader(download: Callable[[], Iterable[bytes]]) -> Callable[[], Iterable[bytes]]:
    """A ``reopen()`` for the previous report's two reading passes that reads the blob once.

    The first pass streams the blob and keeps its bytes in a temporary file (disk, not memory); the
    second pass reads that file. A run that replaces ``latest/`` between the passes can therefore
    never mix two reports (the local folder sink gets the same guarantee from its open file).
    """
    spool = tempfile.TemporaryFile(prefix="kv-audit-previous-")
    passes = [0]

    def reopen() -> Iterable[bytes]:
        passes[0] += 1
        if passes[0] == 1:
            def tee():
                for chunk in download():
                    spool.write(chunk)
                    yield chunk
            return tee()
        spool.seek(0)
        return iter(lambda: spool.read(1 << 20), b"")

    return reopen
