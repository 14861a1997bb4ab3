"""Snapshot table files -> parsed rows: one JSON value per line, nesting bounded (contract: docs/contracts/snapshot.md).

Every line is parsed by orjson, whatever the row holds: a line that is not JSON stops the run
(exit 2) even when its row would later be dropped as irrelevant, so no byte-level shortcut skips
the parser. What is cheap here is everything around it: a large read buffer and an exact
byte-level depth test, so that only rows really nested deeper than MAX_DEPTH are walked and cut.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator
from pathlib import Path

import orjson

from audit_function.depth import MAX_DEPTH, bounded
from audit_function.errors import InputError

#: read buffer of plain table files: the biggest tables are hundreds of megabytes of short lines
BUFFER = 1 << 20


class TooDeep:
    """Stands for a row the JSON parser refused for its nesting depth: the row becomes a gap."""

    reason = "row skipped: nested too deeply to parse (more than 1,000 levels)"


#: bytes other than quotes and brackets (deleted before the depth test)
_NOT_STRUCTURE = bytes(b for b in range(256) if b not in b'"{}[]')
#: every bracket as one kind of parenthesis: in valid JSON they nest properly whatever their kind
_PARENS = bytes.maketrans(b"{[}]", b"(())")


def deeper_than_max(line: bytes) -> bool | None:
    """Whether the JSON value on ``line`` (already parsed: valid JSON) nests more than MAX_DEPTH
    containers deep; ``None`` when the bytes alone cannot tell (the parsed row is then walked).

    Without a backslash, every ``"`` delimits a string. Keeping only quotes and brackets, a
    string without brackets becomes ``""``; once those pairs are gone, a quote left means a
    string holding a bracket (``None``). What remains is the structure alone, as parentheses:
    each pass of removing ``()`` removes the innermost level, so the value is deeper than
    MAX_DEPTH exactly when MAX_DEPTH passes leave something.
    """
    if b"\\" in line:
        return None
    shape = line.translate(None, _NOT_STRUCTURE).replace(b'""', b"")
    if b'"' in shape:
        return None
    shape = shape.translate(_PARENS)
    for _ in range(MAX_DEPTH):
        shape = shape.replace(b"()", b"")
        if not shape:
            return False
    return True


def iter_rows(path: Path, bound: bool = True) -> Iterator[tuple[int, dict]]:
    """(line number, parsed row) for every non-blank line; a line that is not JSON stops the run.

    Depth is bounded: a row nested deeper than MAX_DEPTH is cut (:func:`bounded`); one too deep
    for the parser at all is yielded as :class:`TooDeep` (the reader records a gap). A reader
    that never keeps nor names anything nested below its row's second level may pass
    ``bound=False`` (the cut could not change what it makes, and looking for depth costs a pass
    over every byte).
    """
    packed = path.name.endswith(".gz")
    line_no = 0
    loads = orjson.loads
    try:
        with (gzip.open(path, "rb") if packed else open(path, "rb", buffering=BUFFER)) as handle:
            for line_no, line in enumerate(handle, 1):
                try:
                    row = loads(line)
                except orjson.JSONDecodeError as exc:
                    if not line.strip():
                        continue
                    if "depth limit" in str(exc) or "recursion" in str(exc).lower():
                        yield line_no, TooDeep()
                        continue
                    raise InputError(str(path), f"not valid JSON ({exc}); a snapshot table has one JSON object "
                                     "per line", line_no) from None
                # a value cannot nest deeper than its number of brackets: most rows stop at the count
                if bound and line.count(b"{") + line.count(b"[") > MAX_DEPTH and deeper_than_max(line) is not False:
                    row = bounded(row)
                yield line_no, row
    except (OSError, EOFError, zlib.error) as exc:
        raise InputError(str(path), f"cannot read the file ({exc})", line_no + 1 if line_no else None) from None
