"""The rule catalog: one module per rule, listed explicitly (no import-time registry)."""

from __future__ import annotations

from rules import (
    access_policy_model,
    audit_logging_missing,
    broad_data_role,
    compound_identity_policy,
    cross_tenant_access_policy,
    dead_access_policy,
    defender_for_key_vault_off,
    firewall_allows_any,
    full_access_policy,
    inert_role_assignment,
    key_expiry_missing,
    key_rotation_missing,
    latent_grant,
    migration_gap,
    no_private_endpoint,
    perimeter_allows_public,
    public_network_open,
    public_with_private_endpoint,
    purge_protection_disabled,
    secret_expiry_missing,
    self_grant_path,
    soft_delete_disabled,
    stranded_access_policy,
    template_deployment_path,
    vault_tenant_mismatch,
    wildcard_custom_role,
)

#: every rule, in catalog order (docs/contracts/rules.md); project rules (docs/contracts/README.md) follow
#: the catalog rule they extend
ALL_RULES = (
    # permission model (model in force)
    access_policy_model,
    dead_access_policy,
    stranded_access_policy,
    inert_role_assignment,
    # privilege
    self_grant_path,
    broad_data_role,
    wildcard_custom_role,
    full_access_policy,
    template_deployment_path,
    # network exposure
    public_network_open,
    firewall_allows_any,
    perimeter_allows_public,   # project rule (docs/contracts/README.md): perimeter_associations
    public_with_private_endpoint,
    no_private_endpoint,
    # recovery
    soft_delete_disabled,
    purge_protection_disabled,
    # tenancy and identity
    vault_tenant_mismatch,
    cross_tenant_access_policy,
    compound_identity_policy,
    # keys, secrets, logging and Defender (deeper tables: collect --deep)
    key_expiry_missing,
    secret_expiry_missing,
    key_rotation_missing,
    audit_logging_missing,
    defender_for_key_vault_off,
    # migration readiness
    migration_gap,
    latent_grant,
)

RULE_IDS = tuple(rule.META.id for rule in ALL_RULES)
