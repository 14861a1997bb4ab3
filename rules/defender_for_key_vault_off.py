"""defender-for-key-vault-off: Microsoft Defender for Key Vault is not on in a subscription (CIS 8.1.8.1)."""

from __future__ import annotations

from rules.base import NotEvaluated, RuleMeta, capped, finding

META = RuleMeta(
    id="defender-for-key-vault-off",
    title="Microsoft Defender for Key Vault is off in the subscription",
    severity="medium",
    applies_to="estate",
    subject="subscription",
    tables=("defender_plans",),
    rationale=(
        "Microsoft Defender for Key Vault alerts on unusual access to vaults (access from a Tor exit node, a "
        "suspicious principal, an unusual volume of secret reads). It is enabled per subscription: the "
        "subscription's KeyVaults pricing (Microsoft.Security/pricings/KeyVaults) has pricingTier Standard; Free "
        "or a missing plan means off. CIS Microsoft Azure Foundations 8.1.8.1. Like Prowler's "
        "defender_ensure_defender_for_keyvault_is_on and Azure Policy 'Azure Defender for Key Vault should be "
        "enabled', every audited subscription is judged, also one without vaults today (a vault created "
        "tomorrow is not covered); the evidence lists the vaults and Managed HSM pools it holds."
    ),
    remediation="`az security pricing create --name KeyVaults --tier Standard --subscription {subscription}`",
    references=("CIS Microsoft Azure Foundations 8.1.8.1",
                "Azure Policy: Azure Defender for Key Vault should be enabled",
                "https://learn.microsoft.com/azure/defender-for-cloud/defender-for-key-vault-introduction",
                "https://learn.microsoft.com/rest/api/defenderforcloud/pricings/get"),
)


def evaluate(estate, index, ctx):
    plans = estate.defender or {}
    unread = {g.scope.lower().rstrip("/") for g in estate.gaps if g.table == "defender_plans"}
    mg_prefix = "/providers/microsoft.management/managementgroups/"
    unread_mgs = {s[len(mg_prefix):] for s in unread if s.startswith(mg_prefix)}
    by_sub: dict[str, list] = {}
    for vault in estate.vaults + estate.hsms:
        by_sub.setdefault(vault.subscription_key or "", []).append(vault)
    for key in sorted(estate.subscriptions):
        sub = estate.subscriptions[key]
        if "" in unread or f"/subscriptions/{key}" in unread or unread_mgs & set(sub.management_groups):
            yield NotEvaluated(META.id, None, "the subscription's Defender plans could not be read",
                               scope=f"/subscriptions/{sub.subscription_id}")
            continue
        plan = plans.get(key)
        if plan is not None and plan.on:
            continue
        vaults = sorted(by_sub.get(key, []), key=lambda v: v.key)
        state = "has no KeyVaults plan" if plan is None else f"has the KeyVaults plan at tier {plan.pricing_tier!r}"
        yield finding(
            META, ctx, subscription_id=sub.subscription_id, scope=f"/subscriptions/{sub.subscription_id}",
            message=(f"Subscription {sub.name or sub.subscription_id} {state}: Microsoft Defender for Key Vault is "
                     f"off for its {len(vaults)} vault{'' if len(vaults) == 1 else 's'}."),
            evidence={"pricingTier": plan.pricing_tier if plan else "missing",
                      "subPlan": plan.sub_plan if plan else None, "plan": plan.id if plan else None,
                      **capped([{"id": v.id, "name": v.name, "resourceType": "Microsoft.KeyVault/managedHSMs"
                                 if v.kind == "managedHsm" else "Microsoft.KeyVault/vaults"} for v in vaults],
                               "vaults")},
            subscription=sub.subscription_id,
        )
