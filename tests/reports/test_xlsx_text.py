"""Cell text cleaning: formula-injection neutralization, XML safety, Excel's cell size limit."""

from __future__ import annotations

import math

import pytest

from reports.xlsx_text import (
    TRUNCATION_MARKER, CellText, cut_utf16, describe, network_exposure, portal_url, utf16_len,
)


@pytest.mark.parametrize("text", ["=1+1", "+1", "-1", "@A1", "\tx", "\rx", "\nx", '=HYPERLINK("x")'])
def test_leading_trigger_gets_an_apostrophe(text):
    cleaner = CellText()
    cleaned = cleaner.clean(text)
    assert cleaned.startswith("'") and cleaned[1:] == text.replace("\r", "\n")
    assert cleaner.neutralized == 1


@pytest.mark.parametrize("text", ["a=1", "kv-prod", " =1", "'quoted", "1-2", "Σ"])
def test_other_text_is_unchanged(text):
    cleaner = CellText()
    assert cleaner.clean(text) == text and cleaner.neutralized == 0


def test_values_that_are_not_text():
    c = CellText().clean
    assert c(None) is None and c("") is None and c([]) is None and c({}) is None
    assert c(3) == 3 and c(2.5) == 2.5
    assert c(True) == "yes" and c(False) == "no"
    assert c(math.nan) == "nan" and c(math.inf) == "inf"  # Excel has no NaN/inf numbers
    assert c(["secrets: get", "keys: list"]) == "secrets: get, keys: list"
    assert c({"reason": "-accepted", "by": None}) == "reason: -accepted"
    assert c(["=a", "b"]) == "'=a, b"  # neutralized after joining


def test_illegal_xml_characters_are_replaced():
    assert CellText().clean("a\x00b\x1fc\ud800d\uffff") == "a\ufffdb\ufffdc\ufffdd\ufffd"
    assert CellText().clean("\x00=1") == "\ufffd=1"


def test_crlf_becomes_lf():
    assert CellText().clean("a\r\nb\rc") == "a\nb\nc"


def test_ooxml_escape_sequences_are_escaped():
    assert CellText().clean("_x003D_1") == "_x005F_x003D_1"
    assert CellText().clean("_x00_ and _xZZZZ_") == "_x00_ and _xZZZZ_"


def test_truncation_keeps_the_limit_and_says_so():
    cleaner = CellText(max_chars=100)
    text = "-" + "y" * 500
    cleaned = cleaner.clean(text)
    assert len(cleaned) == 100
    assert cleaned.startswith("'-yyy")
    assert cleaned.endswith(TRUNCATION_MARKER.format(total=502))
    assert cleaner.truncated == 1
    assert cleaner.clean("z" * 100) == "z" * 100 and cleaner.truncated == 1


def test_truncation_counts_utf16_and_never_splits_a_pair():
    cleaner = CellText(max_chars=100)
    cleaned = cleaner.clean("\U0001F510" * 80)  # 160 UTF-16 units
    assert utf16_len(cleaned) <= 100
    assert "\ufffd" not in cleaned and cleaned.startswith("\U0001F510")
    assert cut_utf16("a\U0001F510", 2) == "a"


def test_limit_must_leave_room_for_the_marker():
    with pytest.raises(ValueError):
        CellText(max_chars=10)


def test_describe_and_exposure():
    assert describe({"managementGroups": ["a", "b"], "subscriptions": []}) == "managementGroups: a, b"
    assert network_exposure({"publicNetworkAccess": "disabled", "networkDefaultAction": "Allow"}) == "private"
    assert network_exposure({"publicNetworkAccess": "Enabled", "networkDefaultAction": "deny"}) == "firewalled"
    assert network_exposure({}) == "public"
    assert network_exposure({"networkExposure": "private", "publicNetworkAccess": "Enabled"}) == "private"
    assert network_exposure({"networkExposure": "=x", "publicNetworkAccess": "Disabled"}) == "private"


def test_portal_url_rejects_long_or_odd_ids():
    base = "/subscriptions/s/resourceGroups/r/providers/Microsoft.KeyVault/vaults/"
    assert portal_url(None, base + "v") == "https://portal.azure.com/#resource" + base + "v"
    assert portal_url("t", base + "x" * 3000) is None
    assert portal_url("t", base + "v\ud800") is None
    assert portal_url("t", 42) is None
