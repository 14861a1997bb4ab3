"""Turning report values into cell values that are safe to put in a spreadsheet.

Every string the workbook shows goes through ``CellText.clean``:

1. Characters XML 1.0 cannot carry (C0 controls other than tab/LF/CR, lone surrogates,
   U+FFFE/U+FFFF) become U+FFFD, so a hostile name never makes openpyxl raise.
2. Formula injection: a string starting with ``=``, ``+``, ``-``, ``@``, tab, CR or LF gets a
   leading apostrophe (``'=HYPERLINK(...)``). The apostrophe is part of the stored value, so the
   neutralization survives copy/paste, CSV export and pandas, not only Excel's display. Excel
   also never sees a formula: a cell is only a formula when openpyxl is given a string that
   starts with ``=``, and no string reaches openpyxl unneutralized (the table writer also
   forces the string type on the cells it builds itself).
3. OOXML escapes: Excel decodes ``_xHHHH_`` inside cell text, so a literal ``_x003D_`` in a
   name would display as ``=``. Such sequences are written escaped (``_x005F_x003D_``) so
   Excel shows exactly the source text. (openpyxl and pandas read the escaped form back.)
4. CR and CRLF become LF: XML readers normalize line ends anyway, so this makes the written
   value the one read back.
5. Excel's 32,767-character limit (counted in UTF-16 units, as Excel does): a longer value is
   cut and ends with a visible marker that gives the full length and points to the JSON report.

Short text (names, ids, severities: most cells of a big workbook) repeats, so ``clean`` remembers
the cleaned form of text up to MEMO_CHARS long (never text it neutralized or cut: those are
counted, so they are cleaned again each time).
"""

from __future__ import annotations

import json
import math
import re
from urllib.parse import quote

EXCEL_MAX_CELL_CHARS = 32_767
FORMULA_TRIGGERS = frozenset("=+-@\t\r\n")
NEUTRALIZER = "'"
TRUNCATION_MARKER = " …[truncated: {total:,} characters in full; see the JSON report]"
MAX_URL_CHARS = 2_000  # Excel refuses hyperlink targets much beyond 2,079 characters
MEMO_CHARS = 256        # CellText remembers the cleaned form of text up to this long ...
MEMO_ENTRIES = 600_000  # ... and forgets all of it when it holds this many

_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_OOXML_ESCAPE = re.compile("_(x[0-9A-Fa-f]{4}_)")
_TENANT = re.compile(r"[A-Za-z0-9][A-Za-z0-9.-]{0,253}")
_VAULT_ID = re.compile(
    r"/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.KeyVault/vaults/[^/]+",
    re.IGNORECASE,
)


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def cut_utf16(text: str, units: int) -> str:
    """The longest prefix of ``text`` that fits in ``units`` UTF-16 code units."""
    data = text.encode("utf-16-le", "surrogatepass")[: units * 2]
    if data and 0xD8 <= data[-1] <= 0xDB:  # do not split a surrogate pair
        data = data[:-2]
    return data.decode("utf-16-le", "surrogatepass")


class CellText:
    """Cleans values for cells and counts what it had to change."""

    def __init__(self, max_chars: int = EXCEL_MAX_CELL_CHARS):
        marker_room = len(TRUNCATION_MARKER.format(total=10**12)) + 2
        if max_chars < marker_room:
            raise ValueError(f"max_chars must be at least {marker_room}")
        self.max_chars = max_chars
        self._fast_len = max_chars // 2  # any str this short fits, even all astral
        self.neutralized = 0
        self.truncated = 0
        self._memo: dict[str, str] = {}   # short source text -> its cleaned text

    def clean(self, value):
        """A cell value: None, a number, or a safe string."""
        if type(value) is str:
            hit = self._memo.get(value)
            if hit is not None:   # cleaned before (never text that was neutralized or cut)
                return hit
            return self._text(value) if value else None
        if value is None:
            return None
        if isinstance(value, bool):
            return "yes" if value else "no"
        if isinstance(value, int) or (isinstance(value, float) and math.isfinite(value)):
            return value
        if not isinstance(value, str):
            value = describe(value)
        return self._text(value) if value else None

    def _text(self, value: str) -> str:
        key = value
        if not value.isprintable() and _ILLEGAL.search(value):   # printable: no control, surrogate, U+FFFE/F
            value = _ILLEGAL.sub("\ufffd", value)
        if "_x" in value:
            value = _OOXML_ESCAPE.sub(r"_x005F_\1", value)
        neutralized = value[0] in FORMULA_TRIGGERS
        if neutralized:
            value = NEUTRALIZER + value
            self.neutralized += 1
        if "\r" in value:
            value = value.replace("\r\n", "\n").replace("\r", "\n")
        if len(value) > self._fast_len:
            return self._limit(value)
        # Short text repeats (names, ids, severities): remember it. Not what was neutralized (each
        # occurrence is counted) nor what was cut (ditto: those come here every time).
        if len(key) <= MEMO_CHARS and not neutralized and type(key) is str:
            if len(self._memo) >= MEMO_ENTRIES:
                self._memo.clear()
            self._memo[key] = value
        return value

    def _limit(self, value: str) -> str:
        total = utf16_len(value)
        if total <= self.max_chars:
            return value
        self.truncated += 1
        marker = TRUNCATION_MARKER.format(total=total)
        return cut_utf16(value, self.max_chars - len(marker)) + marker


DESCRIBE_DEPTH = 64
DEEP_MARKER = "…[nested too deeply to show; see the JSON report]"


def describe(value, _depth: int = 0) -> str:
    """Plain text for nested report values (lists, dicts) without JSON noise where possible.

    Nesting is bounded: below DESCRIBE_DEPTH levels a value is shown as DEEP_MARKER."""
    if _depth > DESCRIBE_DEPTH and isinstance(value, (dict, list, tuple, set, frozenset)):
        return DEEP_MARKER
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return "; ".join(f"{key}: {describe(item, _depth + 1)}" for key, item in value.items()
                         if item not in (None, "", [], {}))
    if isinstance(value, (list, tuple, set, frozenset)):
        try:   # a list of text (data actions, roles) is the common case: joined as it is
            return ", ".join(value)
        except TypeError:
            return ", ".join(describe(item, _depth + 1) for item in value)
    return str(value)


# one encoder for every cell (json.dumps with options builds a new one per call), same output
_JSON = json.JSONEncoder(ensure_ascii=False, separators=(", ", ": "), default=str)


def as_json(value) -> str | None:
    if value in (None, {}, []):
        return None
    try:
        return _JSON.encode(value)
    except RecursionError:
        from audit_function.depth import bounded

        return _JSON.encode(bounded(value))


def portal_url(tenant_id, vault_id) -> str | None:
    """The vault's page in the Azure portal, or None when the id does not look like a vault id.

    The id is percent-encoded (only unreserved characters and ``/`` stay as they are), so a
    hostile name cannot break out of the URL; a tenant that is not a GUID/domain is left out.
    """
    if not isinstance(vault_id, str) or not _VAULT_ID.fullmatch(vault_id):
        return None
    try:
        path = quote(vault_id, safe="/")
    except UnicodeEncodeError:
        return None
    tenant = ""
    if isinstance(tenant_id, str) and _TENANT.fullmatch(tenant_id):
        tenant = f"@{tenant_id}/"
    url = f"https://portal.azure.com/#{tenant}resource{path}"
    return url if len(url) <= MAX_URL_CHARS else None


def network_exposure(vault: dict) -> str:
    """The report's own ``networkExposure`` when it has one, else derived the same way."""
    if vault.get("networkExposure") in ("private", "perimeter", "firewalled", "public"):
        return vault["networkExposure"]
    if str(vault.get("publicNetworkAccess") or "").lower() == "disabled":
        return "private"
    if str(vault.get("networkDefaultAction") or "").lower() == "deny":
        return "firewalled"
    return "public"
