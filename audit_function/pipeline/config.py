"""The configuration file (``--config FILE``): suppressions, severity overrides, thresholds,
owner tags, tickets.

YAML (``.yaml``/``.yml``) or JSON (``.json``), chosen by extension. The file is validated once,
up front; every error names the file and the line (``kv-audit.yaml:14: suppressions[1].expires:
...``). Unknown keys and unknown rule ids are rejected, so a typo never silently disables a
suppression or an override. Both formats are first read into a small tree of ``_Node`` values
that remember their line, then checked by one set of functions.
"""

from __future__ import annotations

import bisect
import difflib
import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from json.decoder import scanstring
from json.scanner import NUMBER_RE
from pathlib import Path

import yaml

from audit_function.errors import ConfigError
from audit_function.yaml_loader import NoAliasLoader, read_config_text
from audit_function.estate.owners import DEFAULT_OWNER_TAGS, check_owner_tags
from audit_function.history.suppressions import Suppression
from audit_function.vocabulary import SEVERITIES, Thresholds


@dataclass(frozen=True)
class AuditConfig:
    suppressions: tuple[Suppression, ...] = ()
    # ruleId -> "high" | "medium" | "low"
    severity_overrides: dict = field(default_factory=dict, hash=False)
    thresholds: Thresholds = field(default_factory=Thresholds)
    # the ``tickets`` section as plain values (see docs/tickets.md)
    tickets: dict | None = field(default=None, hash=False)
    owner_tags: tuple[str, ...] = DEFAULT_OWNER_TAGS   # tag names that name a finding's owner, in order
    path: str | None = None            # the file it came from

    @classmethod
    def default(cls) -> AuditConfig:
        return cls()


TOP_KEYS = ("suppressions", "severityOverrides", "thresholds", "ownerTags", "tickets")
SUPPRESSION_KEYS = ("id", "ruleId", "vault", "subscription", "resourceGroup", "tag",
                    "principalId", "assignmentId", "fingerprint", "justification", "owner", "expires")
THRESHOLD_LIMITS = {"firewallMinPrefixV4": 32, "firewallMinPrefixV6": 128}
TICKET_SINKS = ("azure-devops", "github", "jsonl", "csv")
GROUP_BY = ("finding", "vault", "rule", "owner")
TICKET_KEYS = ("sink", "groupBy", "closeResolved", "minSeverity", "out", "azureDevOps", "github")
ADO_KEYS = ("organizationUrl", "project", "workItemType", "closedState", "reopenState",
            "priorityField", "areaPath", "tags")
GITHUB_KEYS = ("repository", "apiUrl", "labels")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def load_config(path, known_rule_ids: set[str] | None) -> AuditConfig:
    """Read and validate a configuration file.

    ``known_rule_ids`` is the rule catalog; ``None`` skips the rule-id check (for tools that
    only need the ``tickets`` section). Raises ``ConfigError("file:line: what")``.
    """
    where = str(path)
    suffix = Path(where).suffix.lower()
    if suffix not in (".yaml", ".yml", ".json"):
        raise ConfigError(f"{where}: unsupported configuration file type {suffix or '(none)'!r}: "
                          "use .yaml, .yml or .json")
    text = read_config_text(where)
    try:
        root = _read_json(text, where) if suffix == ".json" else _read_yaml(text, where)
    except RecursionError:
        raise ConfigError(f"{where}: nested too deeply to be a configuration file") from None
    return _build(root, where, known_rule_ids)


# --- reading: YAML and JSON into line-aware nodes ---------------------------------------------

@dataclass
class _Node:
    value: object              # dict[str, _Node] | list[_Node] | scalar
    line: int | None
    key_line: int | None = None  # for a mapping value: the line of its key
    text: str | None = None      # YAML plain scalar as written (e.g. "0012" read as int 12)


def _read_yaml(text: str, where: str) -> _Node | None:
    loader = NoAliasLoader(text)
    try:
        node = loader.get_single_node()
        return None if node is None else _from_yaml(loader, node, where)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = f":{mark.line + 1}" if mark else ""
        raise ConfigError(f"{where}{line}: invalid YAML: {e.problem or e.context}") from e
    except yaml.YAMLError as e:
        raise ConfigError(f"{where}: invalid YAML: {e}") from e
    finally:
        loader.dispose()


def _from_yaml(loader, node, where: str) -> _Node:
    line = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        items: dict[str, _Node] = {}
        for key_node, value_node in node.value:
            key_line = key_node.start_mark.line + 1
            if not isinstance(key_node, yaml.ScalarNode):
                raise ConfigError(f"{where}:{key_line}: a mapping key must be a plain name")
            key = key_node.value
            if key in items:
                raise ConfigError(f"{where}:{key_line}: duplicate key {key!r}")
            child = _from_yaml(loader, value_node, where)
            child.key_line = key_line
            items[key] = child
        return _Node(items, line)
    if isinstance(node, yaml.SequenceNode):
        return _Node([_from_yaml(loader, item, where) for item in node.value], line)
    try:
        value = loader.construct_object(node, deep=True)
    except (ValueError, yaml.YAMLError) as e:
        raise ConfigError(f"{where}:{line}: cannot read value {node.value!r}: {e}") from e
    return _Node(value, line, text=node.value if not node.style else None)


def _read_json(text: str, where: str) -> _Node | None:
    try:
        json.loads(text)
    except json.JSONDecodeError as e:
        raise ConfigError(f"{where}:{e.lineno}: invalid JSON: {e.msg} (column {e.colno})") from e
    newlines = [i for i, c in enumerate(text) if c == "\n"]

    def line_of(pos: int) -> int:
        return bisect.bisect_left(newlines, pos) + 1

    def skip(pos: int) -> int:
        while pos < len(text) and text[pos] in " \t\r\n":
            pos += 1
        return pos

    def value_at(pos: int) -> tuple[_Node, int]:
        line, c = line_of(pos), text[pos]
        if c == "{":
            items: dict[str, _Node] = {}
            pos = skip(pos + 1)
            while text[pos] != "}":
                key_line = line_of(pos)
                key, pos = scanstring(text, pos + 1)
                child, pos = value_at(skip(skip(pos) + 1))
                if key in items:
                    raise ConfigError(f"{where}:{key_line}: duplicate key {key!r}")
                child.key_line = key_line
                items[key] = child
                pos = skip(pos)
                if text[pos] == ",":
                    pos = skip(pos + 1)
            return _Node(items, line), pos + 1
        if c == "[":
            values: list[_Node] = []
            pos = skip(pos + 1)
            while text[pos] != "]":
                child, pos = value_at(pos)
                values.append(child)
                pos = skip(pos)
                if text[pos] == ",":
                    pos = skip(pos + 1)
            return _Node(values, line), pos + 1
        if c == '"':
            string, pos = scanstring(text, pos + 1)
            return _Node(string, line), pos
        for word, value in (("true", True), ("false", False), ("null", None),
                            ("NaN", float("nan")), ("Infinity", float("inf")),
                            ("-Infinity", float("-inf"))):
            if text.startswith(word, pos):
                return _Node(value, line), pos + len(word)
        match = NUMBER_RE.match(text, pos)
        integer, frac, exp = match.groups()
        number = float(integer + (frac or "") + (exp or "")) if frac or exp else int(integer)
        return _Node(number, line), match.end()

    return value_at(skip(0))[0]


# --- checking ---------------------------------------------------------------------------------

class _Checker:
    def __init__(self, where: str, known_rule_ids: set[str] | None) -> None:
        self.where = where
        self.known = known_rule_ids

    def fail(self, node: _Node | None, what: str) -> ConfigError:
        line = getattr(node, "line", None)
        return ConfigError(f"{self.where}:{line}: {what}" if line else f"{self.where}: {what}")

    def mapping(self, node: _Node, name: str, allowed: tuple[str, ...]) -> dict[str, _Node]:
        if not isinstance(node.value, dict):
            raise self.fail(node, f"{name} must be a mapping")
        for key, child in node.value.items():
            if key not in allowed:
                hint = _suggest(key, allowed)
                raise ConfigError(f"{self.where}:{child.key_line}: {name}: unknown key {key!r}"
                                  f"{hint} (allowed: {', '.join(allowed)})")
        return node.value

    def string(self, node: _Node, name: str) -> str:
        value = node.value
        if value is None:
            raise self.fail(node, f"{name} must not be empty")
        if not isinstance(value, str):
            if node.text is None or isinstance(value, (dict, list)):
                raise self.fail(node, f"{name} must be a string")
            value = node.text
        if not value.strip():
            raise self.fail(node, f"{name} must not be empty")
        return value.strip()

    def choice(self, node: _Node, name: str, choices: tuple[str, ...]) -> str:
        value = self.string(node, name).lower()
        if value not in choices:
            raise self.fail(node, f"{name}: {node.value!r} is not one of {', '.join(choices)}")
        return value

    def boolean(self, node: _Node, name: str) -> bool:
        if not isinstance(node.value, bool):
            raise self.fail(node, f"{name} must be true or false")
        return node.value

    def strings(self, node: _Node, name: str) -> list[str]:
        if not isinstance(node.value, list):
            raise self.fail(node, f"{name} must be a list of strings")
        return [self.string(item, f"{name}[{i}]") for i, item in enumerate(node.value)]

    def rule_id(self, node: _Node, name: str, allow_star: bool) -> str:
        value = self.string(node, name)
        if allow_star and value == "*":
            return value
        if self.known is not None and value not in self.known:
            hint = _suggest(value, sorted(self.known))
            raise self.fail(node, f"{name}: unknown rule id {value!r}{hint} "
                                  "(`kv-audit rules` lists them)")
        return value

    def expires(self, node: _Node, name: str) -> date:
        value = node.value
        if isinstance(value, datetime):
            raise self.fail(node, f"{name} must be a date (YYYY-MM-DD), not a date and time")
        if isinstance(value, date):
            return value
        if isinstance(value, str) and _DATE.fullmatch(value.strip()):
            try:
                return date.fromisoformat(value.strip())
            except ValueError as e:
                raise self.fail(node, f"{name}: {value!r} is not a valid date: {e}") from e
        raise self.fail(node, f"{name} must be a date written YYYY-MM-DD, got {value!r}")


def _suggest(word: str, choices) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _build(root: _Node | None, where: str, known: set[str] | None) -> AuditConfig:
    if root is None or root.value is None:
        return AuditConfig(path=where)
    check = _Checker(where, known)
    top = check.mapping(root, "the configuration file", TOP_KEYS)
    suppressions = _suppressions(check, top["suppressions"]) if "suppressions" in top else ()
    overrides = _overrides(check, top["severityOverrides"]) if "severityOverrides" in top else {}
    thresholds = _thresholds(check, top["thresholds"]) if "thresholds" in top else Thresholds()
    tickets = _tickets(check, top["tickets"]) if "tickets" in top else None
    owner_tags = check_owner_tags(check, top["ownerTags"]) if "ownerTags" in top else DEFAULT_OWNER_TAGS
    return AuditConfig(suppressions=suppressions, severity_overrides=overrides, thresholds=thresholds,
                       tickets=tickets, owner_tags=owner_tags, path=where)


def _suppressions(check: _Checker, node: _Node) -> tuple[Suppression, ...]:
    if node.value is None:
        return ()
    if not isinstance(node.value, list):
        raise check.fail(node, "suppressions must be a list")
    result, seen_ids = [], {}
    for index, item in enumerate(node.value):
        name = f"suppressions[{index}]"
        fields = check.mapping(item, name, SUPPRESSION_KEYS)
        for required in ("ruleId", "justification", "owner", "expires"):
            if required not in fields:
                raise check.fail(item, f"{name}: {required!r} is required")

        def text(key: str) -> str | None:
            child = fields.get(key)
            if child is None or child.value is None:
                return None
            return check.string(child, f"{name}.{key}")

        tag: tuple[tuple[str, str], ...] = ()
        if "tag" in fields:
            tag_fields = fields["tag"]
            if not isinstance(tag_fields.value, dict) or not tag_fields.value:
                raise check.fail(tag_fields, f"{name}.tag must be a mapping like {{env: prod}}")
            tag = tuple((key, check.string(value, f"{name}.tag.{key}"))
                        for key, value in tag_fields.value.items())
        rule_id = check.rule_id(fields["ruleId"], f"{name}.ruleId", allow_star=True)
        suppression = Suppression(
            rule_id=rule_id,
            justification=check.string(fields["justification"], f"{name}.justification"),
            owner=check.string(fields["owner"], f"{name}.owner"),
            expires=check.expires(fields["expires"], f"{name}.expires"),
            vault=text("vault"), subscription=text("subscription"),
            resource_group=text("resourceGroup"), tag=tag, principal_id=text("principalId"),
            assignment_id=text("assignmentId"), fingerprint=text("fingerprint"),
            id=text("id"), index=index, line=item.line,
        )
        scoped = (suppression.vault, suppression.subscription, suppression.resource_group,
                  suppression.tag, suppression.principal_id, suppression.assignment_id, suppression.fingerprint)
        if rule_id == "*" and not any(scoped):
            raise check.fail(item, f"{name}: ruleId '*' needs at least one of vault, "
                                   "subscription, resourceGroup, tag, principalId, assignmentId or fingerprint")
        if suppression.id is not None:
            if suppression.id in seen_ids:
                raise check.fail(item, f"{name}: id {suppression.id!r} is already used by "
                                       f"suppressions[{seen_ids[suppression.id]}]")
            seen_ids[suppression.id] = index
        result.append(suppression)
    return tuple(result)


def _overrides(check: _Checker, node: _Node) -> dict:
    if node.value is None:
        return {}
    if not isinstance(node.value, dict):
        raise check.fail(node, "severityOverrides must be a mapping of rule id to severity")
    result = {}
    for key, child in node.value.items():
        key_node = _Node(key, child.key_line)
        rule_id = check.rule_id(key_node, "severityOverrides", allow_star=False)
        result[rule_id] = check.choice(child, f"severityOverrides.{key}", SEVERITIES)
    return result


def _thresholds(check: _Checker, node: _Node) -> Thresholds:
    if node.value is None:
        return Thresholds()
    fields = check.mapping(node, "thresholds", tuple(THRESHOLD_LIMITS))
    values = {}
    for key, child in fields.items():
        limit = THRESHOLD_LIMITS[key]
        if isinstance(child.value, bool) or not isinstance(child.value, int):
            raise check.fail(child, f"thresholds.{key} must be a whole number")
        if not 0 <= child.value <= limit:
            raise check.fail(child, f"thresholds.{key} must be between 0 and {limit}")
        values[key] = child.value
    defaults = Thresholds()
    return Thresholds(
        firewall_min_prefix_v4=values.get("firewallMinPrefixV4", defaults.firewall_min_prefix_v4),
        firewall_min_prefix_v6=values.get("firewallMinPrefixV6", defaults.firewall_min_prefix_v6),
    )


def _tickets(check: _Checker, node: _Node) -> dict | None:
    if node.value is None:
        return None
    fields = check.mapping(node, "tickets", TICKET_KEYS)
    result: dict = {}
    for key, child in fields.items():
        name = f"tickets.{key}"
        if key == "sink":
            result[key] = check.choice(child, name, TICKET_SINKS)
        elif key == "groupBy":
            result[key] = check.choice(child, name, GROUP_BY)
        elif key == "minSeverity":
            result[key] = check.choice(child, name, SEVERITIES)
        elif key == "closeResolved":
            result[key] = check.boolean(child, name)
        elif key == "out":
            result[key] = check.string(child, name)
        elif key == "azureDevOps":
            result[key] = _section(check, child, name, ADO_KEYS, lists=("tags",),
                                   nullable=("priorityField",))
        elif key == "github":
            result[key] = _section(check, child, name, GITHUB_KEYS, lists=("labels",))
    return result


def _section(check: _Checker, node: _Node, name: str, allowed: tuple[str, ...],
             lists: tuple[str, ...] = (), nullable: tuple[str, ...] = ()) -> dict:
    result = {}
    for key, child in check.mapping(node, name, allowed).items():
        if key in nullable and child.value is None:
            result[key] = None
        elif key in lists:
            result[key] = check.strings(child, f"{name}.{key}")
        else:
            result[key] = check.string(child, f"{name}.{key}")
    return result
