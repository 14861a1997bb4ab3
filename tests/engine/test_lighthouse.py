"""Azure Lighthouse delegations (lighthouse_delegations.jsonl) count as grants held by the managing
tenant's principals: they are not role assignments of the customer tenant, so Resource Graph's
authorizationresources never lists them."""

from __future__ import annotations

from audit_function.access.engine import AccessIndex
from audit_function.engine.evaluate import evaluate
from audit_function.report.document import build_report
from audit_function.snapshot.load import RawSnapshot, load_estate
from rules.base import RuleContext
from rules import self_grant_path, template_deployment_path
from tests.factories import (AS_OF, CONTRIBUTOR, KV_SECRETS_USER, OTHER_TENANT, SUB, policy, run_rules, subscription_row,
                             vault_row, builtin_definition_rows)

MSP_ENGINEERS = "6a2f3c1e-0000-4000-8000-00000000aaaa"
MSP_ONCALL = "6a2f3c1e-0000-4000-8000-00000000bbbb"


def delegation_row(scope: str = f"/subscriptions/{SUB}", *, eligible_principal: str | None = MSP_ONCALL) -> dict:
    """A registration assignment as Resource Graph's resources table returns it (definition expanded)."""
    name = "0b1a2c3d-0000-4000-8000-000000000001"
    definition = {
        "managedByTenantId": OTHER_TENANT, "managedByTenantName": "Fabrikam Managed Services",
        "registrationDefinitionName": "Fabrikam operations",
        "authorizations": [
            {"principalId": MSP_ENGINEERS, "principalIdDisplayName": "Fabrikam engineers",
             "roleDefinitionId": CONTRIBUTOR},
            {"principalId": MSP_ENGINEERS, "principalIdDisplayName": "Fabrikam engineers",
             "roleDefinitionId": KV_SECRETS_USER}],
        "eligibleAuthorizations": ([{"principalId": eligible_principal, "principalIdDisplayName": "Fabrikam on-call",
                                     "roleDefinitionId": CONTRIBUTOR,
                                     "justInTimeAccessPolicy": {"multiFactorAuthProvider": "Azure",
                                                                "maximumActivationDuration": "PT8H"}}]
                                   if eligible_principal else []),
    }
    return {"id": f"{scope}/providers/Microsoft.ManagedServices/registrationAssignments/{name}", "name": name,
            "type": "microsoft.managedservices/registrationassignments", "tenantId": "72f988bf-86f1-41af-91ab-2d7cd011db47",
            "subscriptionId": SUB, "resourceGroup": "",
            "properties": {"provisioningState": "Succeeded",
                           "registrationDefinitionId": f"{scope}/providers/Microsoft.ManagedServices/registrationDefinitions/def1",
                           "registrationDefinition": {"properties": definition}}}


def test_each_authorization_is_a_grant_of_the_managing_tenant():
    tables = {"subscriptions": [subscription_row()], "role_definitions": [], "vaults": [vault_row()],
              "role_assignments": [], "lighthouse_delegations": [delegation_row()]}
    estate = load_estate(RawSnapshot(tables=tables))
    grants = sorted((g.principal_id, g.role_guid, g.eligible) for g in estate.assignments)
    assert grants == sorted([(MSP_ENGINEERS, CONTRIBUTOR, False), (MSP_ENGINEERS, KV_SECRETS_USER, False),
                             (MSP_ONCALL, CONTRIBUTOR, True)])
    assert {g.managed_by_tenant for g in estate.assignments} == {OTHER_TENANT}
    assert {g.scope for g in estate.assignments} == {f"/subscriptions/{SUB}"}
    assert estate.collected["lighthouse_delegations"] is True


def test_delegated_contributor_is_a_self_grant_path_on_access_policy_vaults_and_deploys_templates():
    vaults = [vault_row("kv-ap", rbac=False, policies=[policy("someone", secrets=["get"])],
                        enabledForTemplateDeployment=True)]
    run = run_rules([self_grant_path, template_deployment_path], vaults=vaults, subscriptions=[subscription_row()])
    assert run.findings == []   # without the delegation table nothing is known
    estate_tables = {"subscriptions": [subscription_row()], "role_definitions": builtin_definition_rows(), "vaults": vaults,
                     "role_assignments": [], "lighthouse_delegations": [delegation_row()]}
    estate = load_estate(RawSnapshot(tables=estate_tables))
    evaluation = evaluate(estate, (self_grant_path, template_deployment_path),
                          RuleContext(as_of=AS_OF), index=AccessIndex(estate))
    report = build_report(estate, evaluation, ["self-grant-path", "template-deployment-path"], run={"id": "t"})
    by_rule = {}
    for f in report["findings"]:
        by_rule.setdefault(f["ruleId"], []).append(f)
    holders = sorted((f["principalId"], f["eligible"]) for f in by_rule["self-grant-path"])
    assert holders == [(MSP_ENGINEERS, False), (MSP_ONCALL, True)]
    (deploy,) = by_rule["template-deployment-path"]
    assert sorted(p["principalId"] for p in deploy["evidence"]["principals"]) == [MSP_ENGINEERS, MSP_ONCALL]
    assert {g["managedByTenant"] for p in deploy["evidence"]["principals"] for g in p["grants"]} == {OTHER_TENANT}
    coverage = {c["source"]: c["state"] for c in report["run"]["coverage"]}
    assert coverage["Azure Lighthouse delegations"] == "collected"


def test_a_delegation_row_without_its_definition_is_a_gap():
    row = delegation_row()
    row["properties"].pop("registrationDefinition")
    tables = {"subscriptions": [subscription_row()], "role_definitions": [], "vaults": [vault_row()],
              "role_assignments": [], "lighthouse_delegations": [row]}
    estate = load_estate(RawSnapshot(tables=tables))
    assert estate.assignments == []
    assert [g.table for g in estate.gaps] == ["lighthouse_delegations"]
    assert "registrationDefinition" in estate.gaps[0].reason
