"""Terraform output for a migration plan: ``terraform/kv-audit-plan.tf``.

What it declares
    ``azurerm_role_definition`` per placed custom role (:mod:`~audit_function.migration.placement`:
    its one assignable scope, a subscription or a management group), ``azurerm_role_assignment`` per
    planned assignment at the vault (built-in roles by their tenant-independent GUID), and the flip.

How the flip is done (and why)
    Declaring ``azurerm_key_vault`` for a vault Terraform does not already manage would make
    ``terraform apply`` try to *create* it (it exists: the apply fails) and, after an ``import``,
    any attribute the generated block got wrong would show as an in-place change or, for
    ``tenant_id`` / ``location``, a replacement - a plan must never recreate a vault. So the flip is an
    ``azapi_update_resource`` (GET, merge ``properties.enableRbacAuthorization = true``, PUT: nothing
    else changes, and destroying it never touches the vault), behind ``var.flip`` so it is a
    separate second apply after the assignments have propagated. For vaults that *are* managed by
    your own ``azurerm_key_vault`` blocks, set ``enable_rbac_authorization = true`` (azurerm 3.x;
    ``rbac_authorization_enabled`` in 4.x) there instead and leave ``flip`` false, or the two would
    fight over the property.
    ``review-latent-grants`` vaults flip only with ``accept_latent_grants = true``; ``blocked`` vaults are
    comments.

Safety: every estate string is an HCL string through :func:`audit_function.quoting.hcl_string`
(``"``, ``\\``, ``${``, ``%{`` and control characters escaped); comments go through
:func:`audit_function.quoting.terminal`; resource names are generated (``vault_3_role_1``).
"""

from __future__ import annotations

from audit_function.quoting import hcl_string, terminal

TERRAFORM_FILE = "terraform/kv-audit-plan.tf"
VAULT_API = "2024-11-01"


def _list(values) -> str:
    return "[" + ", ".join(hcl_string(v) for v in values) + "]"


def render(units: list[dict], roles: list[dict], header: list[str]) -> str:
    subs = sorted({u["subscriptionId"] for u in units if u["subscriptionId"]})
    out = [f"# {terminal(line)}" for line in header]
    out += [
        "#",
        "# kv-audit migration plan for Terraform. Review it, then:",
        "#   1. terraform init && terraform apply                 custom roles and role assignments (inert until the flip)",
        "#   2. wait at least 10 minutes (role assignment propagation, Key Vault RBAC guide), verify access,",
        "#      check each vault's access policies are still those of the plan (the CLI script's pre-flight does)",
        "#   3. terraform apply -var flip=true                    switch the vaults to Azure RBAC",
        "# Rollback of a vault (the plan's flip.rollback): az rest --method=patch --url='<vault id>?api-version=2023-07-01'",
        "#   --body='{\"properties\":{\"enableRbacAuthorization\":false}}'",
        "# (a flip changes only enableRbacAuthorization; the access policies are untouched and apply again).",
        "# Vaults managed by your own azurerm_key_vault: set enable_rbac_authorization = true there instead.",
        "",
        "terraform {",
        "  required_providers {",
        '    azurerm = {\n      source  = "hashicorp/azurerm"\n      version = ">= 3.90"\n    }',
        '    azapi = {\n      source  = "Azure/azapi"\n      version = ">= 2.0"\n    }',
        "  }",
        "}",
        "",
        'variable "subscription_id" {',
        '  type        = string',
        '  description = "Subscription of the azurerm provider (resources name their own scopes)."',
        f"  default     = {hcl_string(subs[0] if subs else '')}",
        "}",
        "",
        'variable "flip" {',
        "  type        = bool",
        '  description = "Second apply: switch the vaults to Azure RBAC."',
        "  default     = false",
        "}",
        "",
        'variable "accept_latent_grants" {',
        "  type        = bool",
        '  description = "Also switch the review-latent-grants vaults (their flip widens access)."',
        "  default     = false",
        "}",
        "",
        'provider "azurerm" {',
        "  features {}",
        "  subscription_id = var.subscription_id",
        "}",
        "",
        'provider "azapi" {}',
        "",
    ]
    role_ref = {}
    for n, role in enumerate(roles, 1):
        role_ref[role["id"]] = f"azurerm_role_definition.custom_{n}"
        out += [f"# custom role: {terminal(role['name'])}",
                f'resource "azurerm_role_definition" "custom_{n}" {{',
                f"  role_definition_id = {hcl_string(role['id'])}",
                f"  name               = {hcl_string(role['name'])}",
                f"  scope              = {hcl_string(role['scope'])}",
                f"  description        = {hcl_string(role['description'])}",
                "  permissions {",
                "    actions      = []",
                f"    data_actions = {_list(role['dataActions'])}",
                "  }",
                f"  assignable_scopes = {_list(role['assignableScopes'])}",
                "}", ""]
    for unit in units:
        out += _unit(unit, role_ref)
    return "\n".join(out) + "\n"


def _unit(unit: dict, role_ref: dict) -> list[str]:
    n = unit["n"]
    out = ["# " + "-" * 98, f"# Vault {n}: {terminal(unit['vaultName'])} ({unit['readiness']})",
           f"#   id: {terminal(unit['vaultId'])}"]
    out += [f"#   - {terminal(r)}" for r in unit["reasons"]]
    if unit["action"] == "blocked":
        return out + ["#   Nothing is declared for this vault: the reasons above need a decision first.", ""]
    names = []
    for k, item in enumerate(unit["create"], 1):
        name = f"vault_{n}_role_{k}"
        names.append(f"azurerm_role_assignment.{name}")
        role_id = f"/subscriptions/{unit['subscriptionId']}/providers/Microsoft.Authorization/roleDefinitions/" \
                  f"{item['roleGuid']}"
        out += [f"# entry {item['entry']}: {terminal(item['principalId'])} -> {terminal(item['roleName'])}",
                f'resource "azurerm_role_assignment" "{name}" {{',
                f"  scope              = {hcl_string(unit['vaultId'])}",
                f"  role_definition_id = {hcl_string(role_id)}",
                f"  principal_id       = {hcl_string(item['principalId'])}"]
        if item["principalType"]:
            out.append(f"  principal_type     = {hcl_string(item['principalType'])}")
        out.append(f"  description        = {hcl_string('kv-audit plan: access-policy entry ' + str(item['entry']))}")
        if item["custom"]:
            out.append(f"  depends_on         = [{role_ref[item['roleGuid']]}]")
        out += ["}", ""]
    condition = "var.flip && var.accept_latent_grants" if unit["action"] == "review" else "var.flip"
    out += [f'resource "azapi_update_resource" "vault_{n}_flip" {{',
            f"  count       = {condition} ? 1 : 0",
            f"  type        = {hcl_string('Microsoft.KeyVault/vaults@' + VAULT_API)}",
            f"  resource_id = {hcl_string(unit['vaultId'])}",
            "  body = {",
            "    properties = {",
            "      enableRbacAuthorization = true",
            "    }",
            "  }"]
    if names:
        out.append(f"  depends_on = [{', '.join(names)}]")
    out += ["}", ""]
    return out
