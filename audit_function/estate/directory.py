"""Which principals of the estate the directory no longer holds: deleted identities.

A role assignment or an access-policy entry keeps its object id after the identity is deleted
(Azure lists such assignments as "Identity not found"; Microsoft Learn, "Troubleshoot Azure RBAC":
role assignments with an unknown security principal). With directory data (``principals.jsonl``)
an object id of the directory's own tenant that Microsoft Graph reported as not found is such a
leftover. Both must be on record, or nothing is called deleted (never a guess): the directory's
tenant (``manifest.directory.tenantId``, the ``tid`` of the Graph token, else
``manifest.scope.tenantId``) and what Graph answered (``manifest.directory.notFound``,
written by ``kv-audit collect``), so an id Graph merely failed to answer, or one of another tenant
(cross-tenant entries, Azure Lighthouse grants, grants in another tenant's subscriptions), is never
called deleted.
"""

from __future__ import annotations

from audit_function.estate.model import EVERYONE


def deleted_identities(estate) -> frozenset[str]:
    """Lower-cased object ids of grants and policy entries in the directory's tenant that it lacks."""
    if estate.principals is None:
        return frozenset()
    manifest = estate.manifest or {}
    section = manifest.get("directory") if isinstance(manifest.get("directory"), dict) else {}
    reported = section.get("notFound")
    scope = manifest.get("scope") if isinstance(manifest.get("scope"), dict) else {}
    tenant = section.get("tenantId") or scope.get("tenantId")   # the Graph token's tenant, else the scope's
    if not isinstance(reported, list) or not reported or not isinstance(tenant, str) or not tenant:
        return frozenset()
    reported = {str(i).lower() for i in reported}
    tenant = tenant.lower()

    def home(tenant_id) -> bool:
        return not tenant_id or tenant_id.lower() == tenant

    ids = {a.principal_key for a in estate.assignments if not a.managed_by_tenant and home(a.tenant_id)}
    ids.update(e.object_key for v in estate.vaults for e in v.access_policies if home(e.tenant_id))
    ids.discard(EVERYONE)
    missing = {i for i in ids if i and i not in estate.principals}
    return frozenset(missing & reported)
