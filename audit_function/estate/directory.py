"""Which principals of the estate the directory no longer holds: deleted identities.

A role assignment or an access-policy entry keeps its object id after the identity is deleted
(Azure lists such assignments as "Identity not found"; Microsoft Learn, "Troubleshoot Azure RBAC":
role assignments with an unknown security principal). With directory data (``principals.jsonl``)
an object id of the directory's own tenant that the directory does not return is such a leftover.
When the collection recorded what Microsoft Graph reported (``manifest.directory.notFound``) only
those ids count, so an id Graph merely failed to answer is never called deleted. Ids of another
tenant (cross-tenant entries, Azure Lighthouse grants, grants in another tenant's subscriptions) are
never called deleted: this directory cannot know them.
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
    reported = {str(i).lower() for i in reported} if isinstance(reported, list) else None
    scope = manifest.get("scope") if isinstance(manifest.get("scope"), dict) else {}
    tenant = scope.get("tenantId") if isinstance(scope.get("tenantId"), str) and scope.get("tenantId") else None
    tenant = tenant.lower() if tenant else None

    def home(tenant_id) -> bool:
        return tenant is None or not tenant_id or tenant_id.lower() == tenant

    ids = {a.principal_key for a in estate.assignments if not a.managed_by_tenant and home(a.tenant_id)}
    ids.update(e.object_key for v in estate.vaults for e in v.access_policies if home(e.tenant_id))
    ids.discard(EVERYONE)
    missing = {i for i in ids if i and i not in estate.principals}
    return frozenset(missing & reported if reported is not None else missing)
