"""The rule catalog: one module per rule, listed explicitly (no import-time registry)."""

from __future__ import annotations

from rules import (
    access_policy_model,
    broad_data_role,
    dead_access_policy,
    stranded_access_policy,
)

#: every rule, in catalog order (shared/spec/rules.md)
ALL_RULES = (
    access_policy_model,
    dead_access_policy,
    stranded_access_policy,
    broad_data_role,
)

RULE_IDS = tuple(rule.META.id for rule in ALL_RULES)
