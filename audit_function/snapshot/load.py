"""Estate snapshots: the raw Resource Graph rows an audit reads (contract: docs/contracts/snapshot.md)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path

from audit_function.estate import deep
from audit_function.estate import perimeters
from audit_function.estate import grant_rows
from audit_function.estate import model
from audit_function.estate import rows as estate_rows
from audit_function.estate import scopes
from audit_function.estate import vault_rows
from audit_function import vocabulary
from audit_function.depth import bounded
from audit_function.errors import InputError
from audit_function.estate.owners import resource_group_from_row
from audit_function.snapshot.lines import TooDeep, iter_rows
from audit_function.snapshot.relevance import GrantFilter

__all__ = ["FORMAT", "TABLES", "RawSnapshot", "TooDeep", "builtin_role_definitions", "iter_rows", "load_estate",
           "manifest_gaps", "table_path"]

FORMAT = "kv-audit-snapshot/1"

#: table name -> required?  (order = the order the reader needs them in)
TABLES: dict[str, bool] = {
    "subscriptions": True,
    "management_groups": False,
    "role_definitions": True,
    "principals": False,
    "vaults": True,
    "role_assignments": True,
    "role_eligibilities": False,       # ARM (collect/arm_authorization.py); absent = not collected
    "deny_assignments": False,         # ARM (collect/arm_authorization.py); absent = not collected
    "lighthouse_delegations": False,   # ARG registration assignments; absent = not collected
    "resource_groups": False,          # ARG resourcecontainers (tags: owners); absent = not collected
    # deeper tables (audit_function/estate/deep.py; collected by collect --deep): absent = not collected
    "managed_hsms": False,             # ARG
    "vault_objects": False,            # ARM keys.list / secrets.list per vault (metadata only)
    "diagnostic_settings": False,      # ARM diagnosticSettings per vault and HSM
    "defender_plans": False,           # ARG securityresources pricings
    "perimeter_associations": False,   # ARG networkresources: perimeter associations, profiles, access rules
}


#: tables whose readers (snapshot/relevance.py, estate/grant_rows.py) read only strings at the
#: row's first two levels and keep no nested value: cutting a row at MAX_DEPTH cannot change what
#: they make, so their rows are not searched for depth (the biggest table of an estate)
UNBOUNDED = frozenset({"role_assignments", "role_eligibilities"})


@dataclass
class RawSnapshot:
    """A snapshot held in memory: what live collection produces and the reader accepts."""

    tables: dict[str, list[dict]] = field(default_factory=dict)
    manifest: dict | None = None


# ---------------------------------------------------------------------------------------------
# Reading

Progress = Callable[..., None]


def table_path(directory: Path, table: str) -> Path | None:
    plain, packed = directory / f"{table}.jsonl", directory / f"{table}.jsonl.gz"
    if plain.exists() and packed.exists():
        raise InputError(str(directory), f"both {plain.name} and {packed.name} exist; keep one")
    if plain.exists():
        return plain
    if packed.exists():
        return packed
    return None


def _raw_rows(rows: list[dict]) -> Iterator[tuple[int, dict]]:
    for n, row in enumerate(rows, 1):
        yield n, bounded(row)


@lru_cache(maxsize=1)
def builtin_role_definitions() -> dict[str, model.RoleDefinition]:
    """Built-in roles known to the tool (audit_function/data/builtin_roles.json), by GUID."""
    text = resources.files("audit_function.data").joinpath("builtin_roles.json").read_text(encoding="utf-8")
    out = {}
    for row in json.loads(text)["roles"]:
        role = grant_rows.role_definition_from_row(row, builtin_fallback=True)
        out[role.guid] = role
    return out


def _row_scope(row) -> str:
    if isinstance(row, dict) and isinstance(row.get("id"), str):
        return row["id"]
    return "(row without id)"


def load_estate(source: Path | str | RawSnapshot, progress: Progress | None = None) -> model.Estate:
    """Read a snapshot (directory or in memory) into the estate model.

    Rows that cannot be understood become gaps naming file and line; a file that is not JSON
    Lines at all, a missing required table or an unreadable manifest raises InputError.
    """
    if isinstance(source, RawSnapshot):
        manifest = source.manifest
        if manifest is not None and not isinstance(manifest, dict):
            raise InputError("(in-memory snapshot)", f"manifest must be an object, not {type(manifest).__name__}")
        missing = [t for t, required in TABLES.items() if required and t not in source.tables]
        if missing:
            raise InputError("(in-memory snapshot)", f"required tables missing: {', '.join(missing)}")

        def rows_of(table: str):
            rows = source.tables.get(table)
            return (None if rows is None else _raw_rows(rows)), f"{table} (in memory)"
    else:
        directory = Path(source)
        if not directory.exists():
            raise InputError(str(directory), "snapshot directory does not exist")
        if not directory.is_dir():
            raise InputError(str(directory), "a snapshot is a directory of <table>.jsonl files, not a file")
        manifest = _read_manifest(directory)
        for table, required in TABLES.items():
            if required and table_path(directory, table) is None:
                raise InputError(str(directory / f"{table}.jsonl"), f"required table file is missing "
                                 f"(a snapshot needs {', '.join(t for t, r in TABLES.items() if r)}; may be .jsonl.gz)")

        def rows_of(table: str):
            path = table_path(directory, table)
            return (None if path is None else iter_rows(path, bound=table not in UNBOUNDED)), (str(path) if path else table)

    gaps: list[vocabulary.Gap] = []
    counts: dict[str, dict[str, int]] = {}
    present: set[str] = set()
    names: dict[str, str] = {}    # table -> the file (or in-memory name) it was read from
    report = progress or (lambda *a, **k: None)

    def read(table: str, convert, keep=None):
        rows, name = rows_of(table)
        out = []
        stats = counts.setdefault(table, {"rows": 0, "kept": 0, "skipped": 0})
        if rows is None:
            return None
        present.add(table)
        names[table] = name
        append, seen, skipped = out.append, 0, 0
        for line, row in rows:
            seen += 1
            if row.__class__ is TooDeep:
                skipped += 1
                gaps.append(vocabulary.Gap("(row without id)", table, row.reason, file=name, line=line))
                continue
            if keep is not None and not keep(row):
                continue
            try:
                append(convert(row))
            except estate_rows.RowError as exc:
                skipped += 1
                gaps.append(vocabulary.Gap(_row_scope(row), table, f"row skipped: {exc}", file=name, line=line))
            if seen % 100_000 == 0:
                report("rows", table=table, rows=seen)
        stats.update(rows=seen, kept=len(out), skipped=skipped)
        report("table", table=table, rows=seen, kept=len(out))
        return out

    subscriptions = _by_key(read("subscriptions", estate_rows.subscription_from_row) or [], lambda s: s.key,
                            "subscriptions", gaps, names)
    mgs = {m.name: m for m in read("management_groups", estate_rows.management_group_from_row) or []}
    groups = _by_key(read("resource_groups", resource_group_from_row) or [], lambda g: g.key,
                     "resource_groups", gaps, names)
    definitions = dict(builtin_role_definitions())
    snapshot_defs = read("role_definitions", grant_rows.role_definition_from_row) or []
    definitions.update(_by_key(snapshot_defs, lambda d: d.guid, "role_definitions", gaps, names))
    principal_rows = read("principals", estate_rows.principal_from_row)
    principals = None if principal_rows is None else _by_key(principal_rows, lambda p: p.id.lower(), "principals", gaps, names)
    vaults = read("vaults", vault_rows.vault_from_row) or []
    # drops the grants that cannot touch a vault; notes any grant at management-group scope, kept or
    # not (empty chains are then unknown)
    grants = GrantFilter(definitions)
    keep = grants.keep
    assignments = _unique(read("role_assignments", grant_rows.assignment_reader(), keep=keep) or [],
                          "role_assignments", "duplicate role assignment row ignored", gaps, names)
    eligible_rows = read("role_eligibilities", grant_rows.eligibility_from_row, keep=keep)
    # eligibility instances are de-duplicated by id (the list API may return one per schedule window)
    eligibilities = list({e.key: e for e in eligible_rows or []}.values())
    delegated = [g for grants in read("lighthouse_delegations", grant_rows.lighthouse_grants_from_row) or []
                 for g in grants]
    delegated = _unique(delegated, "lighthouse_delegations", "duplicate Lighthouse authorization ignored", gaps, names)
    deny_rows = read("deny_assignments", grant_rows.deny_from_row)
    denies = _unique(deny_rows or [], "deny_assignments", "duplicate deny assignment row ignored", gaps, names)

    hsm_rows = read("managed_hsms", deep.hsm_from_row)
    object_rows = read("vault_objects", deep.object_from_row)
    diagnostic_rows = read("diagnostic_settings", deep.diagnostic_from_row)
    defender_rows = read("defender_plans", deep.defender_from_row)
    perimeter_rows = read("perimeter_associations", perimeters.perimeter_from_row)

    seen: set[str] = set()
    unique = []
    for vault in vaults:
        if vault.key in seen:
            gaps.append(vocabulary.Gap(vault.id, "vaults", "duplicate vault row ignored", file=names.get("vaults", "vaults")))
            continue
        seen.add(vault.key)
        # a row without tenantId stays without: vault-tenant-mismatch is then not evaluated, and / and
        # management-group grants cover it (catalog 2, readings pinned); nothing is borrowed or guessed
        unique.append(vault)

    if manifest:
        gaps.extend(manifest_gaps(manifest, counts, "manifest.json" if not isinstance(source, RawSnapshot)
                                  else "(in-memory manifest)"))

    hsms = []
    for hsm in hsm_rows or []:
        if hsm.key in seen:
            gaps.append(vocabulary.Gap(hsm.id, "managed_hsms", "duplicate Managed HSM row ignored",
                                  file=names.get("managed_hsms", "managed_hsms")))
            continue
        seen.add(hsm.key)
        hsms.append(hsm)
    def mgs_of(resource) -> tuple[str, ...]:
        sub = subscriptions.get(resource.subscription_key or "")
        return sub.management_groups if sub else ()

    unique = deep.attach(unique, "vault_objects", object_rows, gaps, mgs_of)
    unique = deep.attach(unique, "diagnostic_settings", diagnostic_rows, gaps, mgs_of)
    hsms = deep.attach(hsms, "diagnostic_settings", diagnostic_rows, gaps, mgs_of)
    associations = None if perimeter_rows is None else perimeters.resolve(perimeter_rows)
    unique = perimeters.unsure(deep.attach(unique, "perimeter_associations", associations, gaps, mgs_of), gaps)
    hsms = perimeters.unsure(deep.attach(hsms, "perimeter_associations", associations, gaps, mgs_of), gaps)
    defender = None if defender_rows is None else {
        p.subscription_id.lower(): p for p in defender_rows if p is not None}

    return model.Estate(
        hsms=hsms, defender=defender,
        vaults=unique, subscriptions=subscriptions, management_groups=mgs, role_definitions=definitions,
        assignments=assignments + eligibilities + delegated, principals=principals, gaps=gaps, manifest=manifest, counts=counts,
        denies=denies, resource_groups={k: g.tags for k, g in groups.items()}, grants_at_management_groups=grants.management_group or any(
            a.scope_key.startswith(scopes.MG_PREFIX) for a in delegated), collected={t: t in present for t, required in TABLES.items() if not required},
    )


def _by_key(items: list, key, table: str, gaps: list[vocabulary.Gap], names: dict) -> dict:
    """Rows by key; a repeated key keeps the first row and is reported (never merged silently).

    The gap names the file: it is bad input, not a scope that could not be read."""
    out: dict = {}
    for item in items:
        k = key(item)
        if k in out:
            gaps.append(vocabulary.Gap(getattr(item, "id", k), table, f"duplicate {table} row for {k} ignored",
                                  file=names.get(table, table)))
            continue
        out[k] = item
    return out


def _unique(items: list, table: str, reason: str, gaps: list[vocabulary.Gap], names: dict) -> list:
    """Rows de-duplicated by their lower-cased id: one finding per cause, the duplicate a gap (bad input)."""
    seen: set[str] = set()
    out = []
    for item in items:
        if item.key in seen:
            gaps.append(vocabulary.Gap(item.id, table, reason, file=names.get(table, table)))
            continue
        seen.add(item.key)
        out.append(item)
    return out


def manifest_gaps(manifest: dict, counts: dict[str, dict[str, int]], where: str) -> list[vocabulary.Gap]:
    """What the manifest says is missing, and where it disagrees with what was read.

    Gaps: the manifest's own (each must be an object), ``complete: false`` (even with no or a
    malformed ``gaps``), and every table whose ``tables`` row count differs from the rows read
    (a cut or edited file): the gap names the table and both counts.
    """
    out: list[vocabulary.Gap] = []
    listed = manifest.get("gaps")
    if listed is not None and not isinstance(listed, list):
        out.append(vocabulary.Gap("/", None, f"{where}: 'gaps' is not a list ({type(listed).__name__}); "
                                        "the collection's gaps cannot be read"))
        listed = []
    for n, gap in enumerate(listed or [], 1):
        if isinstance(gap, dict):
            table = gap.get("table") if isinstance(gap.get("table"), str) else None
            out.append(vocabulary.Gap(str(gap.get("scope", "")), table, str(gap.get("reason", ""))))
        else:
            out.append(vocabulary.Gap("/", None, f"{where}: gap {n} is not an object; a collection gap went unread"))
    complete = manifest.get("complete")
    if complete is not None and not isinstance(complete, bool):
        out.append(vocabulary.Gap("/", None, f"{where}: 'complete' is not true or false ({complete!r})"))
    elif complete is False and not out:
        out.append(vocabulary.Gap("/", None, "the snapshot's manifest says collection was incomplete"))
    tables = manifest.get("tables")
    if tables is None:
        return out
    if not isinstance(tables, dict):
        out.append(vocabulary.Gap("/", None, f"{where}: 'tables' is not an object of row counts"))
        return out
    for table, expected in tables.items():
        read = counts.get(table, {}).get("rows") if table in counts else None
        if not isinstance(expected, int) or isinstance(expected, bool) or expected < 0:
            out.append(vocabulary.Gap("/", str(table), f"{where}: row count of table {table!r} is not a number "
                                                  f"({expected!r})"))
        elif read is None:
            if expected and table in TABLES:
                out.append(vocabulary.Gap("/", table, f"table {table}: the manifest says {expected} rows, "
                                                 "the snapshot has no such table"))
        elif read != expected:
            out.append(vocabulary.Gap("/", table, f"table {table}: the manifest says {expected} rows, {read} were read "
                                             "(the file was cut or changed after collection)"))
    return out


def _read_manifest(directory: Path) -> dict | None:
    path = directory / "manifest.json"
    if not path.exists():
        return None
    if not path.is_file():
        raise InputError(str(path), "manifest.json is not a file (a directory?)")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(str(path), f"not valid JSON ({exc})", getattr(exc, "lineno", None)) from None
    except RecursionError:
        raise InputError(str(path), "nested too deeply") from None
    except OSError as exc:
        raise InputError(str(path), f"cannot read the manifest ({exc.strerror or exc})") from None
    if not isinstance(manifest, dict):
        raise InputError(str(path), f"manifest must be a JSON object, not {type(manifest).__name__}")
    fmt = manifest.get("format")
    if fmt is not None and fmt != FORMAT:
        raise InputError(str(path), f"unsupported snapshot format {fmt!r} (this kv-audit reads {FORMAT!r})")
    return manifest
