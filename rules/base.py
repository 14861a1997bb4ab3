"""What every rule is made of: metadata, the context it runs in, and what it returns.

A rule is one module with ``META`` (a :class:`RuleMeta`) and a pure ``evaluate`` function:

- ``applies_to="vault"``: ``evaluate(vault, access, ctx)`` runs once per vault whose permission
  model is in ``META.models``; ``access`` is the vault's :class:`~audit_function.access.engine.VaultAccess`;
- ``applies_to="estate"``: ``evaluate(estate, index, ctx)`` runs once (assignment-level rules).

``evaluate`` yields :class:`Finding` and :class:`NotEvaluated` objects. It never reads the clock
(``ctx.as_of`` is the audit's time), the network or the environment.
"""

from __future__ import annotations

import hashlib

from audit_function import quoting
from audit_function.vocabulary import (  # noqa: F401  (what a rule module is made of)
    MODELS, OWNER_TAGS, SEVERITIES, SUBJECTS, Finding, NotEvaluated, RuleContext, RuleMeta, Thresholds,
)

#: evidence lists are capped at this many items, with the full count beside them
EVIDENCE_CAP = 100


class _Blank(dict):
    def __missing__(self, key: str) -> str:
        return f"<{key}>"


def fingerprint(rule_id: str, subject_id: str) -> str:
    """Stable across runs: rule id + the lower-cased id of the finding's subject (catalog 2)."""
    return hashlib.sha256(f"{rule_id}|{subject_id.lower()}".encode()).hexdigest()[:32]


def capped(items, name: str, cap: int = EVIDENCE_CAP) -> dict:
    """An evidence list capped at ``cap`` items, with the full count beside it."""
    items = list(items)
    return {name: items[:cap], f"{name}Count": len(items)}


def affected(vaults) -> dict:
    """What a grant or role definition affects: vault counts by permission model (report 2)."""
    vaults = list(vaults)
    rbac = sum(1 for v in vaults if v.is_rbac)
    return {"vaults": len(vaults), "rbac": rbac, "accessPolicy": len(vaults) - rbac}


def finding(meta: RuleMeta, ctx: RuleContext, *, message: str, vault=None, assignment=None, role=None,
            subscription_id: str | None = None, evidence: dict | None = None, severity: str | None = None,
            principal_id: str | None = None, principal_type: str | None = None, scope: str | None = None,
            affected_vaults=None, remediation: str | None = None, **remediation_fields) -> Finding:
    """Build a finding for ``meta``: fingerprint, severity override, names, owner, remediation filled in.

    The subject (``meta.subject``) picks the id the fingerprint is made of: the vault's id, the
    grant's id, the role definition's GUID or the subscription id.
    """
    kind = meta.subject
    subject_id = {"vault": lambda: vault.id, "grant": lambda: assignment.id, "roleDefinition": lambda: role.guid,
                  "subscription": lambda: subscription_id}[kind]()
    fields = _Blank(remediation_fields)
    if vault is not None:
        fields.setdefault("vault_name", vault.name)
        fields.setdefault("vault_id", vault.id)
        fields.setdefault("resource_group", vault.resource_group or "<resource-group>")
        fields.setdefault("subscription_id", vault.subscription_id or "<subscription>")
    if principal_id:
        fields.setdefault("principal_id", principal_id)
    if assignment is not None:
        fields.setdefault("assignment_id", assignment.id)
        fields.setdefault("scope", assignment.scope)
        principal_id = principal_id or assignment.principal_id
        principal_type = principal_type or assignment.principal_type
        fields.setdefault("principal_id", principal_id)
    if role is not None:
        fields.setdefault("role_name", role.name)
        fields.setdefault("role_id", role.id)
    if scope is None and assignment is not None:
        scope = assignment.scope
    names = ctx.who(principal_id)
    if names["principalName"] is None and assignment is not None and assignment.managed_by_tenant:
        # a managing tenant's principal is not in this directory: Lighthouse names it in the delegation
        names = {**names, "principalName": assignment.description}
    if vault is not None:
        owner = ctx.owner(vault)
    elif kind == "roleDefinition" and assignment is None:
        owner = ctx.owner_of_role(role, [g.get("scope") for g in (evidence or {}).get("grants") or ()
                                         if isinstance(g, dict)])
    else:
        owner = ctx.owner_of_scope(scope or (f"/subscriptions/{subscription_id}" if subscription_id else None))
    return Finding(
        fingerprint=fingerprint(meta.id, subject_id),
        ruleId=meta.id,
        severity=ctx.severity_overrides.get(meta.id, severity or meta.severity),
        title=meta.title,
        message=message,
        subject=kind,
        vaultId=vault.id if vault is not None else None,
        vaultName=vault.name if vault is not None else None,
        subscriptionId=(vault.subscription_id if vault is not None else subscription_id or _subscription_of(scope)),
        resourceGroup=vault.resource_group if vault is not None else None,
        principalId=principal_id,
        principalName=names["principalName"],
        principalType=principal_type or names["principalType"],
        userType=names["userType"],
        assignmentId=assignment.id if assignment is not None else None,
        eligible=assignment.eligible if assignment is not None else None,
        # the id the grant references, as spelled there (on role-definition findings, the definition's own)
        roleDefinitionId=(assignment.role_definition_id if assignment is not None and kind == "grant"
                          else role.id if role is not None else None),
        roleName=role.name if role is not None else None,
        scope=scope,
        owner=owner,
        affected=affected(affected_vaults) if affected_vaults is not None else None,
        evidence={**_unrepeated(evidence, principal_id, assignment, role, scope, kind, names),
                  **ctx.deleted_flag(principal_id)},   # a grant left behind by a deleted identity says so
        remediation=quoting.remediation(remediation or meta.remediation, fields),   # a rule may word it per kind
    )


#: evidence keys that repeat a finding field of the same name (report 2: ids are not repeated)
_TOP_LEVEL = ("assignmentId", "principalId", "principalName", "roleDefinitionId", "roleName", "scope", "eligible")


def _unrepeated(evidence: dict | None, principal_id, assignment, role, scope, kind, names: dict) -> dict:
    """``evidence`` without the keys whose value the finding itself carries under the same name."""
    if not evidence:
        return {}
    if not any(k in evidence for k in _TOP_LEVEL):
        return evidence
    top = {"principalId": principal_id or (assignment.principal_id if assignment is not None else None),
           "principalName": names["principalName"],
           "assignmentId": assignment.id if assignment is not None else None,
           "eligible": assignment.eligible if assignment is not None else None,
           "roleDefinitionId": (assignment.role_definition_id if assignment is not None and kind == "grant"
                                else role.id if role is not None else None),
           "roleName": role.name if role is not None else None,
           "scope": scope if scope is not None else (assignment.scope if assignment is not None else None)}
    return {k: v for k, v in evidence.items() if not (k in top and top[k] == v)}


def _subscription_of(scope: str | None) -> str | None:
    if scope and scope[:15].lower() == "/subscriptions/":
        return scope.split("/")[2]
    return None


def entry_item(entry, ctx: RuleContext, **extra) -> dict:
    """A policy entry as an evidence item: the entry as it stands, with the principal's name."""
    who = ctx.who(entry.object_id)
    return {**entry.evidence(), "principalName": who["principalName"], "principalType": who["principalType"],
            "userType": who["userType"], **ctx.deleted_flag(entry.object_id), **extra}


def coverage_item(entry, access, missing: int, ctx: RuleContext) -> dict:
    """Evidence item of an access-policy entry that the principal's standing vault-level RBAC does not cover."""
    from audit_function import permissions as perms

    have = access.rbac_data(entry.object_key)
    who = ctx.who(entry.object_id)
    # what the entry grants (its permissions) is in the access export's accessPolicy row for the vault
    # and principal (report 2: per-(vault, principal) access is not repeated in findings)
    item = {"index": entry.index, "objectId": entry.object_id}
    if entry.application_id:
        item["applicationId"] = entry.application_id
    if entry.tenant_id and vault_tenant(access) and entry.tenant_id.lower() != vault_tenant(access).lower():
        item["tenantId"] = entry.tenant_id
    return {
        **item, "principalName": who["principalName"], "principalType": who["principalType"],
        "userType": who["userType"],
        "missingDataActionsInWords": perms.describe(missing),
        "missingDataActionsCount": missing.bit_count(),
        "coveredBy": "none of it" if not entry.data & have else "part of it",
        "rbacDataActionsInWords": perms.describe(have),
        **capped([g.ref(entry.object_id) for g in access.rbac_grants(entry.object_key)], "partiallyCoveredBy"),
        **capped([g.ref(entry.object_id) for g in access.rbac_grants(entry.object_key, objects=True)], "objectScopedGrants"),
    }


def vault_tenant(access) -> str | None:
    return getattr(getattr(access, "vault", None), "tenant_id", None)


def groups_note(ctx: RuleContext) -> str:
    """Evidence note on group expansion (rules match object ids directly without directory data)."""
    return ("group memberships expanded from directory data" if ctx.groups_expanded
            else "group memberships not expanded (no directory data in the snapshot): "
                 "access a principal has only through a group is not counted")


def hsm_remediation(vault, text: str) -> str | None:
    """``text`` for a Managed HSM pool (its commands differ from a vault's), None (the rule's own) otherwise."""
    return text if getattr(vault, "kind", "vault") == "managedHsm" else None


def label(vault) -> str:
    """How a message names the resource: "Vault", or "Managed HSM" for a Managed HSM pool."""
    return "Managed HSM" if getattr(vault, "kind", "vault") == "managedHsm" else "Vault"
