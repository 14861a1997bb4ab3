"""Columns and rows of the tabular sheets (Findings, Vaults, Access, Migration, gaps).

Row functions take the cleaner (``CellText``) and a ``Lookup`` of the report's vaults and return
``(values, url)``: the cleaned cell values in column order and the portal URL for the column
marked ``link`` (or None).
"""

from __future__ import annotations

from .xlsx_table import Column
from .xlsx_text import as_json, describe, network_exposure, portal_url

from audit_function.vocabulary import SEVERITIES  # noqa: E402

SEVERITY_ORDER = ("critical", *SEVERITIES, "info")
SEVERITY_STYLE = {
    "critical": ("7B0000", "FFFFFF"),
    "high": ("C00000", "FFFFFF"),
    "medium": ("F4B183", "000000"),
    "low": ("FFE699", "000000"),
    "info": ("DDEBF7", "000000"),
}
BAD = ("F8CBAD", "833C0B")
WARN = ("FFE699", "7F6000")
GOOD = ("C6EFCE", "006100")
INERT = ("D9D9D9", "595959")
READINESS_STYLE = {"ready": GOOD, "needs-assignments": WARN, "review-latent-grants": BAD,
                   "blocked": ("C00000", "FFFFFF")}
EVIDENCE_MAX_CHARS = 2_000   # the evidence JSON shown per finding; the JSON report has all of it
EVIDENCE_MARKER = " …[evidence cut at {cap:,} of {total:,} characters: the JSON report has it in full (fingerprint {fp})]"
# A vault with hundreds of policy entries has one row per entry, and its reasons (often a line per
# entry) were repeated on every row: 500 MB of sheet XML on a 10,000-vault estate. The vault's first
# row carries the reasons (up to REASONS_MAX_CHARS), the others a short head of them.
REASONS_MAX_CHARS = 4_000
REASONS_REPEAT_CHARS = 300
REASONS_MARKER = " …[reasons cut at {cap:,} of {total:,} characters: the JSON report's migration section has them all]"
REASONS_REPEAT_MARKER = " …[all reasons on this vault's first row]"
COMMANDS_MAX_CHARS = 4_000   # per Migration row; `kv-audit plan` writes every command in full
COMMANDS_MARKER = "\n…[commands cut at {cap:,} of {total:,} characters: `kv-audit plan` writes them all as scripts]"
SOURCE_WORDS = {"accessPolicy": "access policy", "roleAssignment": "role assignment",
                "eligibleAssignment": "eligible assignment (PIM)"}


def severity_rank(severity: str) -> tuple:
    key = str(severity).lower()
    return (SEVERITY_ORDER.index(key), key) if key in SEVERITY_ORDER else (len(SEVERITY_ORDER), key)


class Lookup:
    """Vault and subscription names by id (case-insensitive), portal URLs cached per vault."""

    def __init__(self, vaults: list[dict], roles: dict | None = None):
        self.roles = {str(k).lower(): v for k, v in (roles or {}).items() if isinstance(v, dict)}
        self.vaults = {}
        self.subscriptions = {}
        for vault in vaults:
            if vault.get("id"):
                self.vaults[str(vault["id"]).lower()] = vault
            if vault.get("subscriptionId") and vault.get("subscriptionName"):
                self.subscriptions[str(vault["subscriptionId"]).lower()] = vault["subscriptionName"]
        self._urls: dict[str, str | None] = {}

    def vault(self, vault_id) -> dict:
        return self.vaults.get(str(vault_id).lower(), {}) if vault_id else {}

    def vault_name(self, row: dict, id_key: str = "vaultId"):
        return row.get("vaultName") or self.vault(row.get(id_key)).get("name")

    def role_name(self, role_id) -> str:
        """A role's name from the report's ``roles`` (keyed by lower-case GUID), else the id itself."""
        key = str(role_id).rsplit("/", 1)[-1].lower()
        return (self.roles.get(key) or {}).get("roleName") or str(role_id)

    def subscription(self, subscription_id):
        if not subscription_id:
            return None
        return self.subscriptions.get(str(subscription_id).lower(), subscription_id)

    def url(self, vault_id) -> str | None:
        if not vault_id:
            return None
        key = str(vault_id)
        if key not in self._urls:
            self._urls[key] = portal_url(self.vault(vault_id).get("tenantId"), vault_id)
        return self._urls[key]


# ---- Findings ----

def finding_columns(with_status: bool) -> list[Column]:
    columns = [
        Column("Severity", 10, highlight=SEVERITY_STYLE),
        Column("Rule", 28), Column("Title", 36, wrap=True), Column("Vault", 24, link=True), Column("Subject", 14),
        Column("Vaults affected", 10), Column("Owner", 26), Column("Principal name", 30),
        Column("Subscription", 26), Column("Resource group", 24), Column("Principal", 38),
        Column("Principal type", 16), Column("Role", 30), Column("Scope", 40),
        Column("Message", 60, wrap=True), Column("Remediation", 56, wrap=True),
    ]
    if with_status:
        columns += [Column("Status", 12), Column("First seen", 20), Column("Suppressed", 12),
                    Column("Suppression", 30)]
    # ids and the evidence JSON stay on screen: the print area ends before them
    columns += [Column("Fingerprint", 20, printed=False), Column("Assignment ID", 40, printed=False),
                Column("Vault ID", 40, printed=False), Column("Evidence", 60, printed=False)]
    return columns


def has_status(findings: list[dict]) -> bool:
    keys = ("status", "firstSeen", "suppressed", "suppression")
    return any(key in finding for finding in findings for key in keys)


def finding_row(finding: dict, text, lookup: Lookup, with_status: bool):
    c = text.clean
    get = finding.get
    vault_id = get("vaultId")
    affected = get("affected")
    values = [
        c(get("severity")), c(get("ruleId")), c(get("title")), c(lookup.vault_name(finding)), c(get("subject")),
        affected["vaults"] if affected else (1 if vault_id else None), c(get("owner")), c(get("principalName")),
        c(lookup.subscription(get("subscriptionId"))), c(get("resourceGroup")),
        c(get("principalId")), c(get("principalType")),
        c(get("roleName") or get("roleDefinitionId")), c(get("scope")),
        c(get("message")), c(get("remediation")),
    ]
    if with_status:
        values += [c(get("status")), c(get("firstSeen")), c(get("suppressed")), c(get("suppression"))]
    values += [c(get("fingerprint")), c(get("assignmentId")), c(vault_id), c(_evidence(finding))]
    return values, lookup.url(vault_id)


def _evidence(finding: dict):
    """The evidence as JSON, cut at EVIDENCE_MAX_CHARS: a grant reaching thousands of vaults lists
    them all in its evidence, far more than a cell is read for (and most of the workbook's size)."""
    text = as_json(finding.get("evidence"))
    if text is None or len(text) <= EVIDENCE_MAX_CHARS:
        return text
    return text[:EVIDENCE_MAX_CHARS] + EVIDENCE_MARKER.format(cap=EVIDENCE_MAX_CHARS, total=len(text),
                                                               fp=finding.get("fingerprint") or "?")


# ---- Vaults ----

def vault_columns(severities: list[str]) -> list[Column]:
    return [
        Column("Vault", 24, link=True), Column("Subscription", 26), Column("Subscription ID", 38),
        Column("Resource group", 24), Column("Owner", 26), Column("Location", 14),
        Column("Permission model", 16, highlight={"accessPolicy": WARN}),
        Column("Public network access", 14), Column("ACL default action", 12),
        Column("Network exposure", 14, highlight={"public": BAD, "firewalled": WARN, "perimeter": GOOD, "private": GOOD}),
        Column("IP rules", 9), Column("Approved private endpoints", 12),
        Column("Soft delete", 10, highlight={"no": BAD, "not set": BAD}),
        Column("Purge protection", 12, highlight={"no": BAD, "not set": BAD}),
        Column("Access policies", 10), Column("RBAC data principals", 12), Column("Findings", 10),
        *[Column(severity.capitalize(), 9) for severity in severities],
        Column("Tags", 40), Column("Vault ID", 40, printed=False), Column("Tenant ID", 38, printed=False),
    ]


def _flag(value):
    """Inventory switches: a missing property is shown as such (the rules treat it as off)."""
    return "not set" if value is None else value


def _count(value):
    return len(value) if isinstance(value, (list, tuple)) else value


def vault_row(vault: dict, text, lookup: Lookup, severities: list[str]):
    c = text.clean
    get = vault.get
    by_severity = get("findingsBySeverity") or {}
    tags = get("tags")
    values = [
        c(get("name")), c(get("subscriptionName")), c(get("subscriptionId")), c(get("resourceGroup")),
        c(get("owner")), c(get("location")), c(get("permissionModel")), c(get("publicNetworkAccess")),
        c(get("networkDefaultAction")), c(network_exposure(vault)), c(get("ipRuleCount")),
        c(_count(get("approvedPrivateEndpoints"))), c(_flag(get("softDeleteEnabled"))),
        c(_flag(get("purgeProtectionEnabled"))), c(get("accessPolicyCount")),
        c(get("rbacDataPrincipalCount")), c(get("findingCount")),
        *[c(by_severity.get(severity, 0)) for severity in severities],
        c("; ".join(f"{k}={describe(v)}" for k, v in tags.items()) if isinstance(tags, dict) else tags),
        c(get("id")), c(get("tenantId")),
    ]
    return values, lookup.url(get("id"))


# ---- Access ----

ACCESS_COLUMNS = [
    Column("Vault", 24, link=True), Column("Subscription", 26), Column("Resource group", 24),
    Column("Model in force", 14), Column("Principal", 38), Column("Principal type", 16),
    Column("Source", 16), Column("Role", 30), Column("Scope", 40), Column("Scope level", 14),
    Column("Effective", 10, highlight={"no": INERT}), Column("Permissions", 50),
    Column("Object-scoped", 10), Column("Conditional", 10), Column("Data actions", 60),
    Column("Assignment ID", 40, printed=False), Column("Vault ID", 40, printed=False),
]


def access_row(row: dict, text, lookup: Lookup):
    c = text.clean
    get = row.get
    source = get("source")
    values = [
        c(lookup.vault_name(row)), c(lookup.subscription(get("subscriptionId"))),
        c(get("resourceGroup")), c(get("permissionModel")), c(get("principalId")),
        c(get("principalType")), c(SOURCE_WORDS.get(source, source)),
        c(get("roleName") or get("roleDefinitionId")), c(get("scope")), c(get("scopeLevel")),
        c(bool(get("effective"))), c(get("permissions")), c(get("objectScoped")),
        c(get("conditional")), c(get("dataActions")), c(get("assignmentId")), c(get("vaultId")),
    ]
    return values, lookup.url(get("vaultId"))


# ---- Migration ----

MIGRATION_COLUMNS = [
    Column("Vault", 24, link=True), Column("Readiness", 20, highlight=READINESS_STYLE),
    Column("Reasons", 40), Column("Principal", 38), Column("Principal type", 16),
    Column("Proposed roles", 34, wrap=True), Column("Excess", 34, wrap=True), Column("Commands", 90, wrap=True),
    Column("Vault ID", 40, printed=False),
]


def migration_rows(plan: dict, text, lookup: Lookup):
    """One row per entry; a vault without entries still gets one row for its readiness."""
    c = text.clean
    vault_id = plan.get("vaultId")
    url = lookup.url(vault_id)
    name, readiness = c(lookup.vault_name(plan)), c(plan.get("readiness"))
    reasons = _lines(plan.get("reasons"), "; ")
    first = c(_cut(reasons, REASONS_MAX_CHARS, REASONS_MARKER))
    rest = c(_cut(reasons, REASONS_REPEAT_CHARS, REASONS_REPEAT_MARKER))
    entries = plan.get("entries") or [{}]
    for n, entry in enumerate(entries):
        entry = entry if isinstance(entry, dict) else {"principalId": entry}
        values = [name, readiness, first if n == 0 else rest] + [
            c(_named(entry)), c(entry.get("principalType")),
            c(_role_names(entry, lookup)), c(entry.get("excess")),
            c(_commands(entry.get("commands"))), c(vault_id),
        ]
        yield values, url


def _named(entry: dict):
    """``name (object id)`` when the directory names the principal, else the id."""
    pid, name = entry.get("principalId"), entry.get("principalName")
    return f"{name} ({pid})" if name and pid else pid


def _role_names(entry: dict, lookup: Lookup):
    """Proposed roles by name (the report lists them by id; a custom role carries its own name)."""
    roles = entry.get("proposedRoles")
    if not isinstance(roles, list):
        return roles
    custom = entry.get("customRole") or {}
    return [custom.get("name") or r if custom and r == custom.get("id") else lookup.role_name(r) for r in roles]


def _commands(commands):
    """The entry's commands, one a line, cut at COMMANDS_MAX_CHARS on a whole command."""
    return _cut(_lines(commands, "\n"), COMMANDS_MAX_CHARS, COMMANDS_MARKER, "\n")


def _cut(text, cap: int, marker: str, boundary: str = "; "):
    """``text`` up to ``cap`` characters, ending on ``boundary`` when that keeps at least half."""
    if not isinstance(text, str) or len(text) <= cap:
        return text
    cut = text.rfind(boundary, 0, cap)
    cut = cut if cut > cap // 2 else cap
    return text[:cut] + marker.format(cap=cap, total=len(text))


def migration_row_count(plans: list[dict]) -> int:
    return sum(max(1, len(plan.get("entries") or ())) for plan in plans)


def _lines(items, separator: str):
    if not isinstance(items, (list, tuple)):
        return items
    return separator.join(describe(item) for item in items)


# ---- Not evaluated & gaps ----

GAP_COLUMNS = [
    Column("Kind", 14, highlight={"gap": BAD}), Column("Scope", 40), Column("Table", 18),
    Column("Rule", 28), Column("Vault", 24, link=True), Column("Reason", 60, wrap=True), Column("Details", 40),
    Column("Vault ID", 40, printed=False),
]
_GAP_KEYS = {"scope", "table", "reason"}
_NOT_EVALUATED_KEYS = {"ruleId", "vaultId", "vaultName", "reason"}


def gap_rows(run: dict, text, lookup: Lookup):
    c = text.clean
    for gap in run.get("gaps") or ():
        gap = gap if isinstance(gap, dict) else {"reason": gap}
        rest = {k: v for k, v in gap.items() if k not in _GAP_KEYS}
        yield [c("gap"), c(gap.get("scope")), c(gap.get("table")), None, None,
               c(gap.get("reason")), c(describe(rest)), None], None
    for item in run.get("notEvaluated") or ():
        item = item if isinstance(item, dict) else {"reason": item}
        rest = {k: v for k, v in item.items() if k not in _NOT_EVALUATED_KEYS}
        vault_id = item.get("vaultId")
        yield [c("not evaluated"), None, None, c(item.get("ruleId")), c(lookup.vault_name(item)),
               c(item.get("reason")), c(describe(rest)), c(vault_id)], lookup.url(vault_id)
