"""The spreadsheet writer's fast paths: cells and links written as text, sheets streamed into the
archive, compression in a worker thread, cleaned text remembered. Each must give what the plain
openpyxl path gives (byte for byte) or what CellText alone gives."""

from __future__ import annotations

import io
import re
import threading
import xml.etree.ElementTree as ET
import zipfile

import openpyxl
import pytest
from hypothesis import given, settings, strategies as st

import reports.xlsx_fastrows as fastrows
from audit_function.vocabulary import AuditResult
from reports.xlsx_links import escape_attribute
from reports.xlsx_pipe import DeflatingPipe
from reports.xlsx_report import XlsxWriter
from reports.xlsx_text import MEMO_CHARS, CellText
from tests.reports import factory_xlsx as make

# text of every kind a cell can be handed: XML specials, spaces at the ends, line ends, controls,
# astral characters, formula triggers, OOXML escapes
CELL_TEXT = st.text(st.sampled_from(list("ab =+-@&<>\"' \t\r\n\x00\x07\x1f_x003D\u00a0\u2028\U0001f600\ud800")),
                    min_size=0, max_size=40)


def both_paths(result, monkeypatch, **limits) -> tuple[bytes, bytes]:
    fast = XlsxWriter(**limits).render(result)
    monkeypatch.setattr(fastrows, "FAST_ROWS", False)
    try:
        slow = XlsxWriter(**limits).render(result)
    finally:
        monkeypatch.setattr(fastrows, "FAST_ROWS", True)
    return fast, slow


def assert_same_parts(fast: bytes, slow: bytes) -> None:
    with zipfile.ZipFile(io.BytesIO(fast)) as a, zipfile.ZipFile(io.BytesIO(slow)) as b:
        assert sorted(a.namelist()) == sorted(b.namelist())
        for name in a.namelist():
            if name != "docProps/core.xml":   # carries the save time
                assert a.read(name) == b.read(name), name


def estate_with(texts: list[str]) -> AuditResult:
    vaults = [make.vault(f"kv-{n}", tags={"t": text}) for n, text in enumerate(texts)]
    findings = [make.finding("no-private-endpoint", v, n, message=text, remediation=text)
                for n, (v, text) in enumerate(zip(vaults, texts))]
    access = tuple(make.access_row(v, text or "p") for v, text in zip(vaults, texts))
    return AuditResult(make.report(vaults, findings), access)


@settings(max_examples=30, deadline=None)
@given(st.lists(CELL_TEXT, min_size=1, max_size=4))
def test_hostile_text_is_written_exactly_as_openpyxl_writes_it(texts):
    with pytest.MonkeyPatch.context() as monkeypatch:
        fast, slow = both_paths(estate_with(texts), monkeypatch, max_links=2)
    assert_same_parts(fast, slow)
    with zipfile.ZipFile(io.BytesIO(fast)) as archive:
        for name in archive.namelist():
            if name.startswith("xl/worksheets/sheet"):
                assert not re.search(rb"<f[ >]", archive.read(name)), name   # never a formula
    wb = openpyxl.load_workbook(io.BytesIO(fast))
    messages = [row[14] for row in wb["Findings"].iter_rows(min_row=2, values_only=True)]
    clean = CellText().clean
    assert messages == [None if clean(t) is None else clean(t).replace("\r", "\n") for t in texts]


@given(st.text())
def test_link_targets_are_escaped_as_elementtree_escapes_attributes(target):
    expected = ET.tostring(ET.Element("r", Target=target), encoding="unicode")
    assert f'<r Target="{escape_attribute(target)}" />' == expected


def test_links_past_the_cap_and_a_continued_sheet_match_openpyxl(monkeypatch):
    vaults = [make.vault(f"kv-{n:02d}") for n in range(12)]
    findings = [make.finding("no-private-endpoint", v, n) for n, v in enumerate(vaults)]
    result = AuditResult(make.report(vaults, findings), tuple(make.access_row(v, "p") for v in vaults))
    fast, slow = both_paths(result, monkeypatch, max_rows=5, max_links=3)
    assert_same_parts(fast, slow)
    wb = openpyxl.load_workbook(io.BytesIO(fast))
    pages = [ws for ws in wb.worksheets if ws.title.startswith("Findings")]
    assert [ws.title for ws in pages] == ["Findings", "Findings (2)", "Findings (3)"]
    linked = [sum(1 for row in ws.iter_rows() for cell in row if cell.hyperlink) for ws in pages]
    assert linked == [3, 3, 3]   # per page, at most max_links (of its 4 rows)
    assert pages[0]["D2"].hyperlink.target.startswith("https://portal.azure.com/")


def test_streamed_sheets_keep_their_final_part_names():
    data = XlsxWriter().render(make.small_estate())
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        workbook = archive.read("xl/workbook.xml").decode()
        rels = archive.read("xl/_rels/workbook.xml.rels").decode()
        names = re.findall(r'<sheet name="([^"]+)" sheetId="(\d+)"', workbook)
        for name, n in names:
            assert f'Target="/xl/worksheets/sheet{n}.xml"' in rels, name
            assert f"xl/worksheets/sheet{n}.xml" in archive.namelist()
    assert [name for name, _ in names][0] == "Summary"


@pytest.mark.parametrize("fix_first", [True, False])
def test_only_the_tab_the_workbook_opens_on_is_selected(fix_first):
    result = make.small_estate()
    result.report["summary"]["fixFirst"] = [result.report["findings"][0]["fingerprint"]] if fix_first else []
    wb = openpyxl.load_workbook(io.BytesIO(XlsxWriter().render(result)))
    selected = [ws.title for ws in wb.worksheets if ws.sheet_view.tabSelected]
    opens_on = "Fix first" if "Fix first" in wb.sheetnames else "Summary"
    assert selected == [opens_on] and wb.active.title == opens_on
    assert ("Fix first" in wb.sheetnames) == fix_first


def test_deflating_pipe_writes_what_it_was_given_in_any_chunking():
    buffer = io.BytesIO()
    payload = b"".join(b"<row r=\"%d\">%s</row>" % (n, b"x" * (n % 700)) for n in range(5000))
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        pipe = DeflatingPipe(archive.open("part.xml", "w", force_zip64=True), chunk=4096, depth=2)
        for start in range(0, len(payload), 999):
            assert pipe.write(memoryview(payload[start:start + 999])) == len(payload[start:start + 999])
        pipe.close()
        pipe.close()   # twice is harmless
        archive.writestr("after.txt", b"next entry")   # the entry was finished
    with zipfile.ZipFile(buffer) as archive:
        assert archive.read("part.xml") == payload
        assert archive.read("after.txt") == b"next entry"
        assert archive.testzip() is None


def test_deflating_pipe_raises_the_workers_error_and_never_blocks():
    class Failing:
        closed = False

        def write(self, data):
            raise OSError("disk gone")

        def close(self):
            self.closed = True

    handle = Failing()
    pipe = DeflatingPipe(handle, chunk=10, depth=1)
    done = threading.Event()

    def writer():
        with pytest.raises(OSError, match="disk gone"):
            for _ in range(1000):
                pipe.write(b"0123456789")
            pipe.close()
        done.set()

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    thread.join(timeout=20)
    assert done.is_set(), "the writer blocked behind a dead worker"
    assert not handle.closed   # a failed entry is not finished as if it were complete


def test_remembered_text_is_counted_and_cleaned_like_new_text():
    cleaner = CellText()
    for _ in range(3):
        assert cleaner.clean("=HYPERLINK(1)") == "'=HYPERLINK(1)"
        assert cleaner.clean("kv-prod") == "kv-prod"
        assert cleaner.clean("a\x00b") == "a\ufffdb"
    assert cleaner.neutralized == 3
    small = CellText(200)
    long_text = "y" * 300
    assert small.clean(long_text) == small.clean(long_text) and small.truncated == 2
    assert len("k" * MEMO_CHARS) == MEMO_CHARS and cleaner.clean("k" * (MEMO_CHARS + 1)) == "k" * (MEMO_CHARS + 1)


@given(st.lists(CELL_TEXT, max_size=30))
def test_a_cleaner_that_remembers_gives_what_a_fresh_one_gives(texts):
    remembering = CellText()
    for text in texts + texts:
        fresh = CellText()
        assert remembering.clean(text) == fresh.clean(text)
    assert remembering.neutralized == 2 * sum(1 for t in texts if t and t[0] in "=+-@\t\r\n")
