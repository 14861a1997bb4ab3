"""``run.coverage``: every data source the catalog can use, whether it was read, and what its absence hides.

"No finding" must never be mistaken for "not examined" (catalog 2, last section). Each entry is
``{"source", "state": "collected" | "not collected" | "partial", "note"}``; an uncollected
optional source is not a gap and does not make the run incomplete.
"""

from __future__ import annotations

from audit_function.estate.model import Estate

COLLECTED, NOT_COLLECTED, PARTIAL = "collected", "not collected", "partial"

#: source -> (snapshot table or None, what its absence can hide or overstate)
SOURCES: dict[str, tuple[str | None, str]] = {
    "role assignments": ("role_assignments",
                         "without them no RBAC access is known: stranded and migration-gap findings are overstated, "
                         "self-grant, broad-role and latent-grant paths are missed"),
    "role definitions": ("role_definitions",
                         "custom roles are unknown and their grants count as granting nothing (built-in roles the "
                         "tool knows fill in)"),
    "management-group ancestry": ("subscriptions",
                                  "grants and denies at management groups cannot be matched to vaults: their "
                                  "vault-level RBAC rules are not evaluated"),
    "eligible assignments (PIM)": ("role_eligibilities",
                                   "a principal that can activate Owner or a Key Vault data role on its own is not "
                                   "counted in self-grant, broad-role, latent-grant or template-deployment findings"),
    "deny assignments": ("deny_assignments",
                         "access a deny assignment removes is still counted: exposure may be overstated"),
    "directory data (Microsoft Graph)": ("principals",
                                         "group members are not expanded (access through a group is not counted "
                                         "for its members), names stay null and deleted identities are not told apart"),
    "resource group tags (owners)": ("resource_groups",
                                     "a finding whose vault has no owner tag of its own skips its resource group's: "
                                     "its owner is the subscription's, or null"),
    "Azure Lighthouse delegations": ("lighthouse_delegations",
                                     "principals of a managing tenant with delegated roles are not counted as grants"),
    "classic subscription administrators": (None,
                                            "co-administrators hold Owner-equivalent access that is not a role "
                                            "assignment; kv-audit does not read them"),
    "network security perimeters": ("perimeter_associations",
                                    "the perimeters' inbound access rules are not judged (collect --deep reads "
                                    "them): vaults and Managed HSM pools with publicNetworkAccess "
                                    "SecuredByPerimeter are listed as not evaluated by perimeter-allows-public, and "
                                    "a vault in an Enforced perimeter is judged by its own firewall only"),
    "Managed HSM pools": ("managed_hsms", "Managed HSM pools are not in the inventory and no rule judges them"),
    "Managed HSM data plane (local RBAC)": (None,
                                            "Managed HSM local role assignments are data plane and never read: who "
                                            "can use HSM keys is not examined"),
    "key and secret metadata": ("vault_objects",
                                "key and secret expiry and key rotation are not examined (CIS 8.3.1-8.3.4, 8.3.9; "
                                "collect --deep reads them, rotation policies from the control plane)"),
    "diagnostic settings": ("diagnostic_settings", "whether vaults and Managed HSM pools send AuditEvent logs is not "
                                                   "examined (CIS 6.1.1.4; collect --deep reads them)"),
    "Defender for Key Vault plans": ("defender_plans",
                                     "whether Microsoft Defender for Key Vault is on is not examined (CIS 8.1.8.1; "
                                     "collect --deep reads them)"),
}


#: how the collector's manifest ``coverage`` entries name a source (collect/graph.py: "directory")
MANIFEST_NAMES = {"principals": "directory"}


def coverage(estate: Estate, unknown_ancestry_vaults: int = 0) -> list[dict]:
    """One entry per source, in catalog order."""
    manifest = estate.manifest if isinstance(estate.manifest, dict) else {}
    noted = {e.get("source"): e for e in manifest.get("coverage") or [] if isinstance(e, dict)}
    partial_tables = {g.table for g in estate.gaps if g.file is None and g.table}
    out = []
    for source, (table, note) in SOURCES.items():
        if table is None:
            state = NOT_COLLECTED
        elif table in ("role_assignments", "role_definitions", "subscriptions"):
            state = PARTIAL if table in partial_tables else COLLECTED
            if table == "subscriptions" and unknown_ancestry_vaults:
                state = PARTIAL
                note = f"{unknown_ancestry_vaults} vault(s) have unknown management-group ancestry: {note}"
        elif estate.collected.get(table):
            state = PARTIAL if table in partial_tables else COLLECTED
        else:
            state = NOT_COLLECTED
        extra = noted.get(table) or noted.get(source) or noted.get(MANIFEST_NAMES.get(table or "", ""))
        if extra and extra.get("state") in (COLLECTED, NOT_COLLECTED, PARTIAL) and (
                state != COLLECTED or extra["state"] == PARTIAL):
            state = extra["state"]
            if extra.get("note"):
                note = f"{extra['note']}: {note}"
        out.append({"source": source, "state": state, "note": note if state != COLLECTED else _collected(source)})
    return out


def _collected(source: str) -> str:
    return f"{source} read for every audited scope"
