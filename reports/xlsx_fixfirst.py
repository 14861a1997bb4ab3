"""The Fix first sheet: where a reviewer starts (``summary.fixFirst``, at most 25 findings).

Each row names the cause (the vault, or the grant and who holds it), its owner, how many vaults it
reaches and the one command that fixes it. The rows come in the report's ranking: severity, then
vaults affected, then fingerprint.
"""

from __future__ import annotations

from .xlsx_rows import SEVERITY_STYLE
from .xlsx_table import Column

FIX_FIRST_SHEET = "Fix first"

FIX_FIRST_COLUMNS = [
    Column("#", 5), Column("Severity", 10, highlight=SEVERITY_STYLE), Column("Rule", 26),
    Column("What to fix", 48, link=True), Column("Held by", 30, wrap=True), Column("Owner", 26),
    Column("Vaults affected", 10), Column("Remediation", 80, wrap=True), Column("Fingerprint", 20),
]


def what_to_fix(f: dict, lookup) -> str:
    if f.get("subject") == "grant":
        return f"{f.get('roleName') or 'role'} at {f.get('scope')}"
    if f.get("subject") == "roleDefinition":
        return f"custom role {f.get('roleName')}"
    if f.get("subject") == "subscription":
        return f"subscription {lookup.subscription(f.get('subscriptionId'))}"
    return lookup.vault_name(f) or f.get("vaultId") or ""


def fix_first_rows(findings: list[dict], text, lookup):
    c = text.clean
    for n, f in enumerate(findings, 1):
        affected = f.get("affected")
        who = f.get("principalName") or f.get("principalId")
        held = who if f.get("subject") == "grant" else None
        yield [n, c(f.get("severity")), c(f.get("ruleId")), c(what_to_fix(f, lookup)), c(held), c(f.get("owner")),
               affected["vaults"] if affected else (1 if f.get("vaultId") else None), c(f.get("remediation")),
               c(f.get("fingerprint"))], lookup.url(f.get("vaultId"))
