"""Report writers: render an AuditResult to bytes. No file-system or network I/O here."""

from __future__ import annotations

from importlib import import_module

#: format name -> (module, class); imported on first use so a format's dependencies load only when asked for
_WRITERS = {
    "json": ("reports.json_report", "JsonWriter"),
    "xlsx": ("reports.xlsx_report", "XlsxWriter"),
    "ocsf": ("reports.ocsf_report", "OcsfWriter"),
    "html": ("reports.html_report", "HtmlWriter"),
    "access": ("reports.access_export", "AccessWriter"),
}

FORMATS = tuple(_WRITERS)


def writer_for(name: str):
    """The writer instance for a format name (``json``, ``xlsx``, ``ocsf``, ``html``, ``access``)."""
    try:
        module, cls = _WRITERS[name]
    except KeyError:
        raise ValueError(f"unknown report format {name!r} (known: {', '.join(FORMATS)})") from None
    return getattr(import_module(module), cls)()
