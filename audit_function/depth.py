"""Bounded nesting: no report value, snapshot row or cell is nested without limit.

A snapshot row, a previous report or evidence can hold values nested thousands of levels deep
(a tag value); the JSON encoder stops at 255 levels and recursive renderers at Python's
recursion limit. Values are therefore cut at MAX_DEPTH: the deeper part becomes DEEP_MARKER.
"""

from __future__ import annotations

import orjson

#: rows nested deeper than this are cut there (the deeper values become DEEP_MARKER): writers,
#: spreadsheets and rules then never meet unbounded nesting (a tag value 10,000 levels deep)
MAX_DEPTH = 64
DEEP_MARKER = f"…[nested deeper than {MAX_DEPTH} levels: not kept]"


def _depth_over(obj, limit: int) -> bool:
    stack = [(obj, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            item = item.values()
        elif not isinstance(item, list):
            continue
        if depth >= limit:
            return True
        stack.extend((child, depth + 1) for child in item if isinstance(child, (dict, list)))
    return False


def _cut(obj, depth: int = 0):
    if isinstance(obj, dict):
        return DEEP_MARKER if depth >= MAX_DEPTH else {k: _cut(v, depth + 1) for k, v in obj.items()}
    if isinstance(obj, list):
        return DEEP_MARKER if depth >= MAX_DEPTH else [_cut(v, depth + 1) for v in obj]
    return obj


def bounded(row):
    """``row`` with every value nested deeper than MAX_DEPTH replaced by DEEP_MARKER."""
    return _cut(row) if _depth_over(row, MAX_DEPTH) else row


def dumps(value) -> bytes:
    """``orjson.dumps`` that never fails on depth: a too-deep value is cut first."""
    try:
        return orjson.dumps(value)
    except orjson.JSONEncodeError:
        return orjson.dumps(bounded(value))
