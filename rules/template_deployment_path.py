"""template-deployment-path: Resource Manager reads the vault's secrets into deployments for its deployers."""

from __future__ import annotations

from audit_function import permissions as perms
from rules.base import RuleMeta, capped, finding

META = RuleMeta(
    id="template-deployment-path",
    title="Template deployment can read the vault's secrets for principals that are not data readers",
    severity="medium",
    applies_to="vault",
    uses_rbac=True,
    subject="vault",
    reads=("enabledForTemplateDeployment",),
    requires=("template_deployment",),
    rationale=(
        "With enabledForTemplateDeployment on, Azure Resource Manager retrieves secrets from the vault for any "
        "deployment whose caller has Microsoft.KeyVault/vaults/deploy/action on the vault (Owner, Contributor, "
        "Key Vault Contributor and custom roles with it). That is a control-plane permission: whatever the "
        "permission model and the firewall say, such a principal can read any secret of the vault through a "
        "template parameter reference. Eligible (PIM) grants count: the principal can activate them itself."
    ),
    remediation=(
        "If no template reads this vault's secrets, turn the path off: `az keyvault update --name {vault_name} "
        "--resource-group {resource_group} --enabled-for-template-deployment false`; otherwise remove "
        "Microsoft.KeyVault/vaults/deploy/action from the principals listed in evidence that do not deploy"
    ),
    references=("https://learn.microsoft.com/azure/azure-resource-manager/templates/key-vault-parameter",
                "https://learn.microsoft.com/azure/key-vault/general/rbac-guide"),
)


def evaluate(vault, access, ctx):
    if not vault.template_deployment:
        return
    holders = access.holders(perms.C_DEPLOY)
    if not holders:
        return
    items = []
    for principal, grants in holders.items():
        first = grants[0].assignment
        who = ctx.who(first.principal_id)
        items.append({"principalId": first.principal_id, "principalName": who["principalName"],
                      "principalType": first.principal_type or who["principalType"], "userType": who["userType"],
                      **ctx.deleted_flag(first.principal_id),
                      "eligible": all(g.eligible for g in grants), **capped([g.ref(first.principal_id) for g in grants], "grants")})
    yield finding(
        META, ctx, vault=vault, principal_id=items[0]["principalId"],
        message=(f"Vault {vault.name} is enabled for template deployment, and {len(items)} principal"
                 f"{'' if len(items) == 1 else 's'} can deploy with it (Microsoft.KeyVault/vaults/deploy/action): "
                 f"Resource Manager reads any of its secrets into a deployment for them."),
        evidence={"enabledForTemplateDeployment": True, "permissionModel": vault.model, **capped(items, "principals")},
    )
