"""audit_function.quoting, property-based: every function round-trips through the real consumer
(bash, pycep's Bicep parser with the documented escapes) for any text hypothesis can find."""

from __future__ import annotations

import re
import subprocess

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pycep import BicepParser

from audit_function import quoting
from rules.base import Finding, RuleContext, RuleMeta, finding
from tests.factories import AS_OF

# argv cannot hold NUL; lone surrogates cannot be encoded: everything else is fair game
TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=40)
HOSTILE = st.sampled_from(["$(touch PWNED)", "`id`", "a;b", "'", '"', "\n", "\r", "\x1b[2J", "\x9b", "--help",
                           "-", "${HOME}", "\\", "!", "*", "~", "#", "\u2028", "\u202e", "é", "😀"])
MIXED = st.lists(st.one_of(TEXT, HOSTILE), max_size=6).map("".join)
BASH = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def option(words: list[str], name: str) -> str | None:
    """What argparse (az) reads for ``name``: ``--name=V`` or ``--name V``."""
    for n, word in enumerate(words):
        if word.startswith(name + "="):
            return word[len(name) + 1:]
        if word == name:  # argparse reads a separate word starting with "-" (but "-" itself) as an option
            following = words[n + 1] if n + 1 < len(words) else None
            return None if following is None or (following.startswith("-") and following != "-") else following
    return None


def bash_prints(script: str) -> str:
    done = subprocess.run(["bash", "-c", script], capture_output=True, timeout=20)
    assert done.returncode == 0, done.stderr
    return done.stdout.decode("utf-8", "surrogateescape")


MANY = st.lists(MIXED, min_size=1, max_size=25)


@BASH
@given(MANY)
def test_shell_arg_round_trips_through_bash_as_one_word(values):
    words = [quoting.shell_arg(v) for v in values]
    assert not any(c in w for w in words for c in "\n\r`")
    script = "; ".join(f"set -- {w}; printf '%s\\0' \"$#:$1\"" for w in words)
    assert bash_prints(script).split("\0")[:-1] == [f"1:{v}" for v in values]


@BASH
@given(MANY)
def test_shell_option_is_one_word_az_reads_as_the_value(values):
    script = "; ".join(f"set -- {quoting.shell_option('--name', v)}; printf '%s\\0' \"$#\" \"$@\"" for v in values)
    out = iter(bash_prints(script).split("\0")[:-1])
    for value in values:
        words = [next(out) for _ in range(int(next(out)))]
        assert words == ([f"--name={value}"] if value.startswith("-") else ["--name", value])
    assert next(out, None) is None


@BASH
@given(MANY)
def test_shell_comment_never_ends_early(values):
    comments = [quoting.shell_comment(v) for v in values]
    for comment in comments:
        assert all(line.startswith("# ") for line in comment.split("\n")) and "\r" not in comment
    assert bash_prints("\n".join(f"{c}\nprintf x" for c in comments)) == "x" * len(values)


def bicep_unescape(body: str) -> str:
    """Decode a Bicep single-quoted string per the Bicep docs (data types: strings)."""
    simple = {"\\": "\\", "'": "'", "$": "$", "n": "\n", "r": "\r", "t": "\t"}
    return re.sub(r"\\(?:u\{([0-9A-Fa-f]+)\}|(.))",
                  lambda m: chr(int(m.group(1), 16)) if m.group(1) else simple[m.group(2)], body, flags=re.S)


@settings(max_examples=60, deadline=None)
@given(MIXED)
def test_bicep_string_parses_and_decodes_back(value):
    literal = quoting.bicep_string(value)
    assert "\n" not in literal and "\r" not in literal and "${" not in literal.replace("\\${", "")
    parsed = BicepParser().parse(text=f"var x = {literal}\n")
    raw = parsed["variables"]["x"]["value"]
    assert bicep_unescape(raw) == value


@settings(max_examples=200, deadline=None)
@given(MIXED)
def test_terminal_text_has_no_control_character_and_keeps_printable_text(value):
    shown = quoting.terminal(value)
    assert not re.search("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", shown)
    if value.isprintable() and not re.search("[\u202a-\u202e\u2066-\u2069\u061c\u200e\u200f]", value):
        assert shown == value


def test_spreadsheet_neutraliser_is_the_one_the_workbook_uses():
    from reports import xlsx_report
    from reports.xlsx_text import CellText

    assert xlsx_report.CellText is CellText
    assert CellText().clean("=HYPERLINK(1)") == "'=HYPERLINK(1)"


META = RuleMeta(id="t", title="t", severity="low", applies_to="estate", subject="subscription", rationale="r",
                remediation='Fix {name}: `az thing --name {name} --role "{role_label}" --ids {assignment_ids}` then '
                            "`az x{app_options}`; or `kv-audit plan --vault {name}`")


@BASH
@given(name=MIXED, role=MIXED, ids=st.lists(MIXED.filter(lambda s: s.strip() and not s.startswith("-")), max_size=3))
def test_finding_remediation_commands_carry_each_value_as_one_argument(name, role, ids, tmp_path_factory):
    work = tmp_path_factory.mktemp("rem")
    f: Finding = finding(META, RuleContext(as_of=AS_OF), message="m", subscription_id="s", name=name,
                         role_label=role, assignment_ids=ids, app_options=" --a-flag value")
    remediation = f["remediation"]
    assert not re.search("[\x00-\x1f\x7f-\x9f]", remediation)
    commands = remediation.split("`")[1::2]
    assert len(commands) == 3
    record = "for a in \"$@\"; do printf '%s\\0' \"$a\"; done"
    got = []
    for command in commands:
        out = subprocess.run(["bash", "-c", f"az() {{ {record}; }}; kv-audit() {{ {record}; }}; {command}"],
                             capture_output=True, cwd=work, timeout=20)
        assert out.returncode == 0, out.stderr
        got.append(out.stdout.decode("utf-8", "surrogateescape").split("\0")[:-1])
    first = got[0]
    assert option(first, "--name") == name and option(first, "--role") == role
    assert first[-len(ids):] == ids if ids else first[-1] == "--ids"
    assert got[1] == ["x", "--a-flag", "value"]
    assert not list(work.iterdir())


def _command_templates() -> list[str]:
    from rules import ALL_RULES

    out = {META.remediation, "az x --a '{a}' --b \"{b}\" {c_ids} {d}", "az y {d} --q={a} '{b}''{c_ids}'"}
    for rule in ALL_RULES:
        out.add(rule.META.remediation)
    return sorted(p for t in out for i, p in enumerate(t.split("`")) if i % 2 or t.startswith("az "))


_WORDISH = st.text(alphabet="ab9_.:/@%+=,-' \"$`\n<>", max_size=8)


@settings(max_examples=400, deadline=None)
@given(template=st.sampled_from(_command_templates()),
       values=st.dictionaries(st.sampled_from(["name", "role_label", "assignment_ids", "app_options", "a", "b",
                                               "c_ids", "d", "vault_name", "resource_group", "subscription_id",
                                               "vault_id", "assignment_id", "principal_id", "scope"]),
                              _WORDISH | st.lists(_WORDISH, max_size=3), max_size=15))
def test_unquoted_fast_path_writes_what_full_quoting_writes(template, values):
    """Values needing no quoting skip the quoting machinery: the command must be the same either way."""
    from rules.base import _Blank

    fields = _Blank(values)
    assert quoting._command(template, fields) == quoting._quoted_command(template, fields)


# --- HCL (Terraform) strings -------------------------------------------------------------------

_HCL_SIMPLE = {"\\": "\\", '"': '"', "n": "\n", "r": "\r", "t": "\t"}


def hcl_decode(literal: str) -> str:
    """The value of an HCL quoted string per the HCL native syntax spec (escapes, ``$${`` and ``%%{``)."""
    assert literal.startswith('"') and literal.endswith('"'), literal
    body, out, i = literal[1:-1], [], 0
    while i < len(body):
        ch = body[i]
        if ch == "\\":
            nxt = body[i + 1]
            if nxt == "u":
                out.append(chr(int(body[i + 2:i + 6], 16)))
                i += 6
                continue
            if nxt == "U":
                out.append(chr(int(body[i + 2:i + 10], 16)))
                i += 10
                continue
            out.append(_HCL_SIMPLE[nxt])
            i += 2
            continue
        if body.startswith(("$${", "%%{"), i):
            out.append(ch + "{")
            i += 3
            continue
        assert not body.startswith(("${", "%{"), i), f"interpolation starts at {i}: {literal!r}"
        assert ch != '"' and ord(ch) >= 0x20 and not 0x7F <= ord(ch) <= 0x9F, literal
        out.append(ch)
        i += 1
    return "".join(out)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)
       | st.text(alphabet='$%{}\\"\n\r\t`\x00\x1b\x9b\u2028 ab', max_size=30))
def test_hcl_string_parses_and_decodes_to_the_value(value):
    import hcl2

    literal = quoting.hcl_string(value)
    assert "\n" not in literal and hcl_decode(literal) == value
    parsed = hcl2.loads(f"x = {literal}\n")
    assert parsed["x"] == literal        # python-hcl2 keeps the literal: one string token, nothing interpolated


def test_hcl_string_escapes_templates_and_quotes():
    assert quoting.hcl_string('a"b\\c') == '"a\\"b\\\\c"'
    assert quoting.hcl_string("${x} %{if y}") == '"\\u0024{x} \\u0025{if y}"'
    assert quoting.hcl_string("$${z}") == '"$\\u0024{z}"' and hcl_decode('"$$${z}"') == "$${z}"
    assert quoting.hcl_string("l1\nl2\x1b") == '"l1\\nl2\\u001b"'


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="aZ9_@%+=:,./- '\"$", max_size=12))
def test_values_that_need_no_quoting_are_what_shlex_writes(value):
    """The fast paths of shell_arg and shell_option return a value as it is only when shlex.quote would."""
    import shlex

    assert quoting.shell_arg(value) == quoting._shell_word(value) == shlex.quote(value)
    expected = f"--opt={shlex.quote(value)}" if value.startswith("-") else f"--opt {shlex.quote(value)}"
    quoting.shell_option("--opt", "x")
    assert quoting.shell_option("--opt", value) == expected
