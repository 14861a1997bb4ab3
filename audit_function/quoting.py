"""The one place estate text is quoted for where it goes: bash, a shell comment, Bicep, a terminal.

Every string that comes from an estate (vault names, resource groups, role names, tags, ids, error
text that quotes them) and reaches a shell command, a generated script line, a Bicep file or the
terminal goes through exactly one function of this module. Spreadsheet cells have their own
neutraliser, :class:`reports.xlsx_text.CellText`, owned by the spreadsheet writer and not
duplicated (it is not re-exported here: this module sits below every stage, the writers above).

``shell_arg`` (bash, one argument)
    :func:`shlex.quote` for printable text. Text with a control character (newline, CR, ESC, C1,
    DEL), a backtick or U+2028/U+2029 is written in bash ANSI-C quoting instead (``$'a\\nb'``),
    every such character as ``\\xHH`` escapes of its UTF-8 bytes: the result is always one line
    of text with no backtick, so it can sit inside a Markdown code span, a ``# `` comment, a
    ticket or a terminal line without ending any of them. NUL cannot be a command-line argument at
    all; it becomes U+FFFD. Target: bash (the generated script is ``#!/usr/bin/env bash``).

``shell_option`` (values that may start with ``-``)
    An estate value is always passed after its option; when it starts with ``-`` it is joined to
    it as ``--option=VALUE`` (one word): ``az`` (argparse) would read a resource group named
    ``--help`` standing on its own as an option. (Plain values keep the readable ``--option VALUE``.)

``shell_comment`` (comment lines)
    A comment never contains a raw newline or CR: multi-line text becomes several ``# `` lines,
    and other control characters are escaped as by :func:`terminal`.

``bicep_string`` (a Bicep string literal)
    ``'...'`` with the escapes of the Bicep documentation ("Strings": ``\\\\``, ``\\'``, ``\\n``,
    ``\\r``, ``\\t``, ``\\u{x}``, and ``\\$`` so ``${`` never starts an interpolation;
    https://learn.microsoft.com/azure/azure-resource-manager/bicep/data-types#strings). Other
    control, C1 and line/paragraph-separator characters are written ``\\u{X}``.

``hcl_string`` (a Terraform / HCL quoted string)
    ``"..."`` with the escapes of the HCL native syntax ("Template Literals" / Terraform "Strings and
    Templates": ``\\\\``, ``\\"``, ``\\n``, ``\\r``, ``\\t``, ``\\uNNNN``); a literal ``${`` / ``%{`` is written
    ``\\u0024{`` / ``\\u0025{``: HCL finds interpolations and directives on the raw characters and decodes
    ``\\u`` escapes afterwards, so neither ever starts a template sequence. (The documented ``$${`` /
    ``%%{`` mean the same, but python-hcl2, the parser the tests check with, rejects them when no ``}``
    follows.) Every other control, C1 and line/paragraph-separator character is ``\\uNNNN``
    (https://developer.hashicorp.com/terraform/language/expressions/strings#escape-sequences).

``terminal`` (stdout/stderr)
    C0 controls (newline and tab included), DEL, C1 controls (so no ESC or CSI sequence) and the
    bidirectional overrides are shown as visible escapes (``\\n``, ``\\x1b``, ``\\u202e``). The
    program's own newlines are written outside the values, so they stay.
"""

from __future__ import annotations

import re
import shlex
import string
from functools import lru_cache


__all__ = ["shell_arg", "shell_option", "shell_comment", "bicep_string", "hcl_string", "terminal"]

# characters that must never reach a shell word, a comment or a terminal raw
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f`\u2028\u2029]")
_TERMINAL = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]")
_TERMINAL_NAMES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_BICEP = {"\\": "\\\\", "'": "\\'", "$": "\\$", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_BICEP_UNICODE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_LINES = re.compile("\r\n|\r|\n")


# shlex.quote leaves these unchanged: a field whose value is made of them is its own quoting
_SAFE_WORD = re.compile(r"[\w@%+=:,./][\w@%+=:,./-]*", re.ASCII)      # one word, not an option
_SAFE_ITEM = re.compile(r"[\w@%+=:,./-]+", re.ASCII)                   # one word of a list field
_SAFE_WORDS = re.compile(r"[\w@%+=:,./-]+(?: [\w@%+=:,./-]+)*", re.ASCII)  # a pre-joined field


def _text(value) -> str:
    return value if isinstance(value, str) else str(value)


def shell_arg(value) -> str:
    """``value`` as exactly one bash word that expands to ``value`` (NUL becomes U+FFFD)."""
    text = _text(value)
    return text if _SAFE_ITEM.fullmatch(text) else _shell_word(text)   # shlex.quote would leave it as it is


@lru_cache(maxsize=1 << 16)
def _shell_word(text: str) -> str:
    """Estates repeat names, groups and ids across thousands of commands: each is quoted once."""
    text = text.replace("\x00", "\ufffd")
    if not _UNSAFE.search(text):
        return shlex.quote(text)
    out = []
    for ch in text:
        if ch == "\\" or ch == "'":
            out.append("\\" + ch)
        elif _UNSAFE.match(ch):
            out.append("".join(f"\\x{b:02x}" for b in ch.encode("utf-8", "surrogatepass")))
        else:
            out.append(ch)
    return "$'" + "".join(out) + "'"


def shell_option(option: str, value) -> str:
    """``--option VALUE`` with the value quoted, ``--option=VALUE`` when VALUE starts with ``-``."""
    text = _text(value)
    if option in _OPTION_NAMES and _SAFE_WORD.fullmatch(text):   # the common case: nothing to quote
        return f"{option} {text}"
    return _option(option, text)


_OPTION_NAMES: set[str] = set()   # option names already checked by _option


@lru_cache(maxsize=1 << 16)
def _option(option: str, text: str) -> str:
    if not re.fullmatch(r"--?[A-Za-z0-9][A-Za-z0-9-]*", option):
        raise ValueError(f"not an option name: {option!r}")
    _OPTION_NAMES.add(option)
    return f"{option}={_shell_word(text)}" if text.startswith("-") else f"{option} {_shell_word(text)}"


def shell_comment(text, prefix: str = "# ") -> str:
    """``text`` as comment lines (joined by ``\\n``), each starting with ``prefix``."""
    return "\n".join(prefix + terminal(line) for line in _LINES.split(_text(text)))


def bicep_string(value) -> str:
    """A Bicep string literal whose value is ``value``."""
    out = []
    for ch in _text(value):
        if ch in _BICEP:
            out.append(_BICEP[ch])
        elif _BICEP_UNICODE.match(ch):
            out.append(f"\\u{{{ord(ch):X}}}")
        else:
            out.append(ch)
    return "'" + "".join(out) + "'"


_HCL = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_HCL_UNSAFE = re.compile('[\\\\"\x00-\x1f\x7f-\x9f\u2028\u2029]|\\$\\{|%\\{')


def _hcl_one(match: re.Match) -> str:
    ch = match.group()
    if ch in ("${", "%{"):
        return f"\\u{ord(ch[0]):04x}{{"
    return _HCL.get(ch) or f"\\u{ord(ch):04x}"


def hcl_string(value) -> str:
    """An HCL (Terraform) quoted string literal whose value is ``value``; nothing in it interpolates."""
    return '"' + _HCL_UNSAFE.sub(_hcl_one, _text(value)) + '"'


def _visible(match: re.Match) -> str:
    ch = match.group()
    if ch in _TERMINAL_NAMES:
        return _TERMINAL_NAMES[ch]
    return f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}"


def terminal(value) -> str:
    """``value`` safe to print: no control character, escape sequence or bidi override raw."""
    text = _text(value)
    return _TERMINAL.sub(_visible, text) if _TERMINAL.search(text) else text


def terminal_lines(text) -> str:
    """Program text of several lines: each line made safe, the line breaks kept."""
    return "\n".join(terminal(line) for line in _text(text).split("\n"))


# --- remediation templates (rules/base.py ``finding``) ------------------------------------------
#
# A rule's remediation is prose with commands in backticks (or, when it starts with ``az ``, one
# command). Inside a command every ``{field}`` becomes shell words: one :func:`shell_arg` (a
# ``"{field}"`` or ``'{field}'`` in the template loses its quotes: the quoted value is the one
# word; a plain value, letters, digits, spaces and ``_.,:/@%+=-`` only, keeps them),
# ``--opt={value}`` when the value starts with ``-`` and follows an option, each item of a
# list or tuple its own word, and fields named ``*_ids`` / ``*_option`` / ``*_options`` (strings
# a rule pre-joined with spaces) one word per whitespace-separated token (a ``<placeholder>`` of
# several words stays one). Human placeholders (``<vault id>``, ``<permissions it needs>``), in the
# template or in a value, are quoted like everything else: raw, bash would read ``<`` and ``>`` as
# redirections (pasting ``--scope <vault id> --x`` would write a file named ``--x``). In the
# prose around the commands a value is shown as by :func:`terminal`, with no backtick (so it
# cannot open or close a command). Limitation: an item of a list value that starts with ``-``
# stays a separate word (``--ids a -b``), which ``az`` would read as an option: rules pass ids.

_PLACEHOLDER = re.compile(r"<[A-Za-z][A-Za-z0-9 _-]*>")
_TRAILING_OPTION = re.compile(r"(?:^|\s)--?[A-Za-z][A-Za-z0-9-]* $")
_MULTI_SUFFIXES = ("_ids", "_option", "_options")
_PLAIN = re.compile(r"[A-Za-z0-9 _.,:/@%+=-]*")


def _word(value: str) -> str:
    return shell_arg(value)


@lru_cache(maxsize=4096)
def _literal(text: str) -> str:
    """Template text of a command: its ``<placeholder>`` words quoted (raw, bash reads redirections)."""
    return _PLACEHOLDER.sub(lambda m: shell_arg(m.group(0)), text) if "<" in text else text


def _words(name: str, value) -> str | None:
    """Several words for list values and pre-joined fields; None for a single-word value."""
    if isinstance(value, (list, tuple)):
        return " ".join(_word(_text(v)) for v in value)
    if name.endswith(_MULTI_SUFFIXES):
        text = _text(value)
        tokens = re.findall(r"<[A-Za-z][A-Za-z0-9 _-]*>|\S+", text)
        return (" " if text[:1].isspace() else "") + " ".join(_word(t) for t in tokens)
    return None


@lru_cache(maxsize=1024)
def _template(template: str) -> tuple:
    return tuple(string.Formatter().parse(template))


@lru_cache(maxsize=1024)
def _fast(template: str) -> tuple | None:
    """``template`` as a ``str.format`` string for fields whose values need no quoting at all
    (letters, digits, ``@%+=:,./-``; the common case), with its field names; None when a field
    has a format spec or conversion. Literal text is quoted as :func:`_command` quotes it."""
    pieces, names = [], []
    for literal, name, spec, conversion in _template(template):
        pieces.append(_literal(literal).replace("{", "{{").replace("}", "}}"))
        if name is not None:
            if spec or conversion or not name.isidentifier():
                return None
            pieces.append("{" + name + "}")
            names.append(name)
    return "".join(pieces), tuple(dict.fromkeys(names))


def _unquoted(name: str, value) -> str | None:
    """The value as the command shows it when no quoting is needed, else None (the full path)."""
    if isinstance(value, (list, tuple)):
        items = [_text(v) for v in value]
        return " ".join(items) if all(_SAFE_ITEM.fullmatch(t) for t in items) else None
    text = _text(value)
    pattern = _SAFE_WORDS if name.endswith(_MULTI_SUFFIXES) else _SAFE_WORD
    return text if pattern.fullmatch(text) else None


def _command(template: str, fields) -> str:
    fast = _fast(template)
    if fast is not None:
        values = {}
        for name in fast[1]:
            shown = _unquoted(name, fields[name])
            if shown is None:
                break
            values[name] = shown
        else:
            return fast[0].format_map(values)
    return _quoted_command(template, fields)


def _quoted_command(template: str, fields) -> str:
    parts = list(_template(template))
    out: list[str] = []
    for n, (literal, name, _spec, _conversion) in enumerate(parts):
        literal = _literal(literal)
        if name is None:
            out.append(literal)
            continue
        following = parts[n + 1][0] if n + 1 < len(parts) else ""
        value = fields[name]
        multi = _words(name, value)
        if multi is not None:
            out.append(literal + multi)
            continue
        text = _text(value)
        if literal[-1:] in ("'", '"') and following[:1] == literal[-1:]:
            if _PLAIN.fullmatch(text) and not text.startswith("-"):  # quotes change nothing: keep them
                out.append(literal + text)
                continue
            literal = literal[:-1]
            if n + 1 < len(parts):
                parts[n + 1] = (following[1:],) + tuple(parts[n + 1][1:])
        if text.startswith("-") and _TRAILING_OPTION.search(literal):
            literal = literal[:-1] + "="
        out.append(literal + _word(text))
    return "".join(out)


def _prose(template: str, fields) -> str:
    return template.format_map(_ProseFields(fields))


class _ProseFields(dict):
    __slots__ = ("_fields",)

    def __init__(self, fields) -> None:
        self._fields = fields

    def __missing__(self, key: str) -> str:
        value = self._fields[key]
        if isinstance(value, (list, tuple)):
            value = " ".join(_text(v) for v in value)
        return _prose_value(_text(value))


@lru_cache(maxsize=1 << 16)
def _prose_value(text: str) -> str:
    return terminal(text).replace("`", "\\x60")


@lru_cache(maxsize=1024)
def _pieces(template: str) -> tuple[str, ...]:
    return tuple(template.split("`"))


def remediation(template: str, fields) -> str:
    """Fill a rule's remediation template: commands shell-quoted, prose made printable."""
    if "`" not in template:
        return _command(template, fields) if template.startswith("az ") else _prose(template, fields)
    return "`".join([_command(p, fields) if i % 2 else _prose(p, fields) for i, p in enumerate(_pieces(template))])
