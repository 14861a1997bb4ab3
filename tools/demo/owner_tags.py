"""Owner tags of the demo's subscriptions and resource groups (``make_demo.py`` writes them).

Most demo vaults carry an ``owner`` tag of their own; a few do not, so their findings show the
rest of the chain (report 2): ``kv-web-certs`` and ``kv-grafana-mgmt`` take their resource
group's ``owner``, ``kv-lab-rbac`` its resource group's ``technicalContact``, ``kv-automation``
its subscription's ``owner``. The sandbox subscription names nobody: grants there, and at
management groups or ``/``, have no owner.
"""

from __future__ import annotations

#: subscription key (make_demo.SUBS) -> tags
SUBSCRIPTION_TAGS: dict[str, dict] = {
    "identity": {"technicalContact": "identity-team@contoso.com", "costCenter": "CC-1000"},
    "management": {"owner": "platform-ops@contoso.com", "costCenter": "CC-1000"},
    "corp-prod": {"owner": "corp-platform@contoso.com", "env": "prod"},
    "corp-dev": {"owner": "corp-platform@contoso.com", "env": "dev"},
    "online-prod": {"Owner": "online-platform@contoso.com", "env": "prod"},
    "sandbox": {"env": "sandbox"},
}

#: resource group name -> tags (resource groups not listed have only an env tag)
RESOURCE_GROUP_TAGS: dict[str, dict] = {
    "rg-web-shared": {"owner": "web-platform@contoso.com"},
    "rg-monitoring-grafana": {"owner": "observability@contoso.com"},
    "rg-sandbox-lab": {"technicalContact": "lab-admins@contoso.com"},
    "rg-automation": {"purpose": "runbooks"},
}


def resource_group_rows(vaults, tenant: str) -> list[dict]:
    """One Resource Graph ``resourcecontainers`` row per resource group holding a demo vault."""
    rows, seen = [], set()
    for v in vaults:
        rid = v.subscription.rg(v.rg)
        if rid.lower() in seen:
            continue
        seen.add(rid.lower())
        env = v.tags.get("env") if isinstance(v.tags.get("env"), str) else "prod"
        rows.append({"id": rid, "name": v.rg, "type": "microsoft.resources/subscriptions/resourcegroups",
                     "tenantId": tenant, "location": v.location, "subscriptionId": v.subscription.id,
                     "tags": {"env": env, **RESOURCE_GROUP_TAGS.get(v.rg, {})},
                     "properties": {"provisioningState": "Succeeded"}})
    return sorted(rows, key=lambda r: r["id"].lower())
