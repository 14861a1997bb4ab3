"""Table-driven: real-shaped 403s against a small estate, each with its verdict, reason and fix command.

Every case goes through the real path: snapshot rows -> loader -> access engine -> explain.
"""

from __future__ import annotations

import json
import shlex

import pytest

from audit_function.explain.parse import from_arguments, parse_error, with_ip
from audit_function.explain.run import explain
from audit_function.snapshot.load import RawSnapshot
from tests.factories import (CONTRIBUTOR, KV_SECRETS_USER, OTHER_TENANT, READER, SUB, TENANT, assignment_row,
                             deny_row, eligibility_row, policy, principal_row, private_endpoint, rg_scope,
                             role_definition_row, subscription_row, vault_id, vault_row)

APP = "aaaaaaaa-0000-4000-8000-000000000001"      # the caller: a managed identity
APPID = "bbbbbbbb-0000-4000-8000-000000000001"
GROUP = "cccccccc-0000-4000-8000-000000000001"
DSC_APP = "dddddddd-0000-4000-8000-000000000001"
GHOST = "eeeeeeee-0000-4000-8000-000000000001"      # not in the directory
COLLECTED = "2026-11-23T06:00:00Z"
GET = "secrets/getSecret/action"
ISS = f"https://sts.windows.net/{TENANT}/"

RBAC = vault_id("kv-rbac")
AP = vault_id("kv-ap")
OTHER = vault_id("kv-other")


def _vaults(rg="rg-app"):
    open_acl = {"defaultAction": "Deny", "ipRules": [{"value": "203.0.113.0/24"}], "bypass": "AzureServices"}
    return [
        vault_row("kv-rbac", rg=rg, rbac=True, publicNetworkAccess="Enabled", networkAcls=open_acl),
        vault_row("kv-ap", rg=rg, rbac=False, publicNetworkAccess="Enabled", networkAcls={"defaultAction": "Allow"}),
        vault_row("kv-other", rg=rg, rbac=True, publicNetworkAccess="Enabled", networkAcls={"defaultAction": "Allow"}),
        vault_row("kv-nsp", rg=rg, rbac=True, publicNetworkAccess="SecuredByPerimeter"),
        vault_row("kv-private", rg=rg, rbac=True, publicNetworkAccess="Disabled",
                  privateEndpointConnections=[private_endpoint("Approved")]),
    ]


def snapshot(*, policies=None, assignments=(), eligibilities=(), denies=(), definitions=(), directory=True,
             members=(), rg="rg-app"):
    vaults = _vaults(rg)
    for name, entries in (policies or {}).items():
        next(v for v in vaults if v["name"] == name)["properties"]["accessPolicies"] = entries
    tables = {"subscriptions": [subscription_row()], "role_definitions": list(definitions), "vaults": vaults,
              "role_assignments": list(assignments), "role_eligibilities": list(eligibilities),
              "deny_assignments": list(denies)}
    if directory:
        app = principal_row(APP, "servicePrincipal", member_of=members)
        app.update(displayName="id-orders-api", appId=APPID)
        tables["principals"] = [app, principal_row(GROUP, "group")]
    return RawSnapshot(tables=tables, manifest={"format": "kv-audit-snapshot/1", "collectedAt": COLLECTED})


def ra(scope, role, principal=APP, kind="ServicePrincipal", created="2026-01-01T00:00:00.0000000Z", name=None):
    row = assignment_row(scope, role, principal, principal_type=kind, name=name)
    row["properties"]["createdOn"] = created
    return row


def cli_text(vault="kv-rbac", perm="secrets get", oid=APP):
    return (f"(Forbidden) The user, group or application 'appid={APPID};oid={oid};iss={ISS}' does not have "
            f"{perm} permission on key vault '{vault};location=westeurope'. For help resolving this issue, please "
            "see https://go.microsoft.com/fwlink/?linkid=2125287\nCode: Forbidden")


def rbac_body(resource=RBAC + "/secrets/db-password", action="Microsoft.KeyVault/vaults/secrets/getSecret/action"):
    message = ("Caller is not authorized to perform action on resource.\r\nIf role assignments, deny assignments or "
               "role definitions were changed recently, please observe propagation time.\r\n"
               f"Caller: appid={APPID};oid={APP};iss={ISS}\r\nAction: '{action}'\r\nResource: '{resource.lower()}'\r\n"
               "Assignment: (not found)\r\nDecisionReason: 'DeniedWithNoValidRBAC' \r\nVault: kv-rbac;location=westeurope\r\n")
    return json.dumps({"error": {"code": "Forbidden", "message": message, "innererror": {"code": "ForbiddenByRbac"}}})


def dotnet_text():
    body = rbac_body()
    return ("Azure.RequestFailedException: Caller is not authorized to perform action on resource.\r\n"
            f"Caller: appid={APPID};oid={APP};iss={ISS}\r\nAction: 'Microsoft.KeyVault/vaults/secrets/getSecret/action'\r\n"
            f"Resource: '{RBAC.lower()}/secrets/db-password'\r\nVault: kv-rbac;location=westeurope\r\n\r\n"
            f"Status: 403 (Forbidden)\r\nErrorCode: Forbidden\r\n\r\nContent:\r\n{body}\r\n\r\nHeaders:\r\nx-ms-keyvault-region: westeurope")


def firewall_body(ip="198.51.100.9"):
    message = (f"Client address is not authorized and caller is not a trusted service.\r\nClient address: {ip}\r\n"
               f"Caller: appid={APPID};oid={APP};iss={ISS}\r\nVault: kv-rbac;location=westeurope")
    return json.dumps({"error": {"code": "Forbidden", "message": message, "innererror": {"code": "ForbiddenByFirewall"}}})


def policy_body(vault="kv-ap"):
    return json.dumps({"error": {"code": "Forbidden", "message": cli_text(vault).split(") ", 1)[1],
                                 "innererror": {"code": "ForbiddenByPolicy"}}})


def args(vault="kv-rbac", principal=APP, action="secrets get", ip=None):
    return {"vault": vault, "principal": principal, "action": action, "ip": ip}


def assign(scope, role="Key Vault Secrets User", principal=APP, kind="ServicePrincipal"):
    return " ".join(["az role assignment create", f"--assignee-object-id {principal}"]
                    + ([f"--assignee-principal-type {kind}"] if kind else [])
                    + [f"--role {shlex.quote(role)}", f"--scope {scope}"])


def set_policy(vault="kv-ap", perms="get"):
    return (f"az keyvault set-policy --name {vault} --resource-group rg-app --subscription {SUB} "
            f"--object-id {APP} --secret-permissions {perms}")


def fw(ip, vault="kv-rbac"):
    return f"az keyvault network-rule add --name {vault} --resource-group rg-app --subscription {SUB} --ip-address {ip}"


CUSTOM = "11111111-2222-4333-8444-555555555555"
NO_GET_ROLE = role_definition_row(CUSTOM, "Secrets reader except values", data_actions=["Microsoft.KeyVault/vaults/secrets/*"],
                                  not_data_actions=["Microsoft.KeyVault/vaults/secrets/getSecret/action"])
SECRETS_DENY = deny_row(RBAC, data_actions=["Microsoft.KeyVault/vaults/secrets/getSecret/action"], name="stack-deny")

# (case id, input (error text or args), estate keywords, verdict, reason, first fix command or None)
CASES = [
    ("cli-text-policy-has-list-only", cli_text("kv-ap"), dict(policies={"kv-ap": [policy(APP, secrets=["list"])]}),
     "denied", "action-not-granted", set_policy(perms="list get")),
    ("rbac-json-grant-at-wrong-vault", rbac_body(), dict(assignments=[ra(OTHER, KV_SECRETS_USER)]),
     "denied", "scope-elsewhere", assign(RBAC)),
    ("dotnet-no-grant", dotnet_text(), {}, "denied", "no-grant", assign(RBAC)),
    ("firewall-inner-code", firewall_body(), dict(assignments=[ra(RBAC, KV_SECRETS_USER)]),
     "denied", "firewall", fw("198.51.100.9")),
    ("policy-inner-code-compound-entry", policy_body(),
     dict(policies={"kv-ap": [policy(APP, application_id=DSC_APP, secrets=["get"])]}),
     "denied", "compound-entry", set_policy()),
    ("access-policy-vault-only-rbac-role", args("kv-ap"), dict(assignments=[ra(AP, KV_SECRETS_USER)]),
     "denied", "wrong-model", set_policy()),
    ("rbac-vault-only-policy", cli_text(), dict(policies={"kv-rbac": [policy(APP, secrets=["get", "list"])]}),
     "denied", "wrong-model", assign(RBAC)),
    ("grant-at-resource-group-of-other-vaults", args(), dict(assignments=[ra(rg_scope(rg="rg-elsewhere"), KV_SECRETS_USER)]),
     "denied", "scope-elsewhere", assign(RBAC)),
    ("grant-on-sibling-secret", rbac_body(), dict(assignments=[ra(RBAC + "/secrets/api-key", KV_SECRETS_USER)]),
     "denied", "object-scoped-other", assign(RBAC + "/secrets/db-password")),
    ("reader-only", args(), dict(assignments=[ra(rg_scope(), READER)]), "denied", "control-plane-only", assign(RBAC)),
    ("contributor-only", args(), dict(assignments=[ra(RBAC, CONTRIBUTOR)]), "denied", "control-plane-only", assign(RBAC)),
    ("group-not-expanded", args(), dict(directory=False, assignments=[ra(RBAC, KV_SECRETS_USER, GROUP, "Group")]),
     "unknown", "group-not-expanded", f"az ad group member check --group {GROUP} --member-id {APP}"),
    ("deny-assignment", args(), dict(assignments=[ra(RBAC, KV_SECRETS_USER)], denies=[SECRETS_DENY]),
     "denied", "deny-assignment", None),
    ("eligible-only", args(), dict(eligibilities=[eligibility_row(RBAC, KV_SECRETS_USER, APP, principal_type="ServicePrincipal")]),
     "denied", "eligible-not-activated", "az rest --method put --url 'https://management.azure.com" + RBAC),
    ("firewall-blocks-ip", args(ip="198.51.100.20"), dict(assignments=[ra(RBAC, KV_SECRETS_USER)]),
     "denied", "firewall", fw("198.51.100.20")),
    ("ip-rule-allows", args(ip="203.0.113.7"), dict(assignments=[ra(RBAC, KV_SECRETS_USER)]),
     "allowed", "authorizes", None),
    ("perimeter", args("kv-nsp", ip="198.51.100.20"), dict(assignments=[ra(vault_id("kv-nsp"), KV_SECRETS_USER)]),
     "unknown", "perimeter", None),
    ("public-access-disabled", args("kv-private", ip="198.51.100.20"),
     dict(assignments=[ra(vault_id("kv-private"), KV_SECRETS_USER)]), "denied", "public-access-disabled", None),
    ("compound-entry", args("kv-ap"), dict(policies={"kv-ap": [policy(APP, application_id=DSC_APP, secrets=["get"])]}),
     "denied", "compound-entry", set_policy()),
    ("cross-tenant-entry", args("kv-ap"), dict(policies={"kv-ap": [policy(APP, tenant=OTHER_TENANT, secrets=["get"])]}),
     "denied", "cross-tenant-entry", set_policy()),
    ("propagation-window", rbac_body(), dict(assignments=[ra(RBAC, KV_SECRETS_USER, created="2026-11-23T05:57:00.1234567Z")]),
     "allowed", "propagation", None),
    ("principal-not-found", cli_text(oid=GHOST), {}, "denied", "principal-not-found", assign(RBAC, principal=GHOST, kind=None)),
    ("not-data-actions", args(), dict(definitions=[NO_GET_ROLE], assignments=[ra(RBAC, CUSTOM)]),
     "denied", "not-data-actions", assign(RBAC)),
    ("allowed-through-group", args(), dict(members=[GROUP], assignments=[ra(rg_scope(), KV_SECRETS_USER, GROUP, "Group")]),
     "allowed", "authorizes", None),
    ("access-policy-allows", args("kv-ap", principal="id-orders-api"), dict(policies={"kv-ap": [policy(APP, secrets=["get"])]}),
     "allowed", "authorizes", None),
]


def _request(given):
    if isinstance(given, str):
        return parse_error(given)
    return with_ip(from_arguments(given["vault"], given["principal"], given["action"], None), given["ip"])


@pytest.mark.parametrize("case, given, estate, verdict, reason, command", CASES, ids=[c[0] for c in CASES])
def test_case(case, given, estate, verdict, reason, command):
    doc = explain(_request(given), "snapshot", snapshot(**estate))
    assert (doc["verdict"], doc["reason"]) == (verdict, reason), json.dumps(doc["grants"], indent=1)
    assert doc["exitCode"] == {"allowed": 0, "denied": 1, "unknown": 3}[verdict]
    commands = doc["fix"]["commands"]
    if command is None:
        assert commands == [], commands
    else:
        assert commands and commands[0].startswith(command), commands
    json.dumps(doc)   # the document is plain JSON


def test_there_are_at_least_twenty_cases():
    assert len(CASES) >= 20


def test_each_grant_says_why_it_does_or_does_not_authorize():
    doc = explain(parse_error(cli_text("kv-ap")), "snapshot", snapshot(
        policies={"kv-ap": [policy(APP, secrets=["list"])]}, assignments=[ra(AP, KV_SECRETS_USER), ra(rg_scope(), READER)]))
    reasons = sorted((g["model"], g["reason"]) for g in doc["grants"])
    assert reasons == [("accessPolicy", "action-not-granted"), ("rbac", "control-plane-only"), ("rbac", "wrong-model")]
    assert doc["model"]["inForce"] == "accessPolicy" and doc["model"]["enableRbacAuthorization"] is False
    assert doc["who"] == {**doc["who"], "objectId": APP, "name": "id-orders-api", "type": "servicePrincipal"}
    alt = doc["fix"]["alternative"]   # the role it already holds takes effect on the flip: nothing to add
    assert alt["command"] is None and "already holds Key Vault Secrets User" in alt["note"]


def test_mid_migration_alternative_is_the_role_for_after_the_flip():
    doc = explain(parse_error(cli_text("kv-ap")), "snapshot", snapshot(policies={"kv-ap": [policy(APP, secrets=["list"])]}))
    alt = doc["fix"]["alternative"]
    assert alt["command"] == assign(AP) and "kv-audit plan" in alt["note"]
    assert doc["fix"]["commands"] == [set_policy(perms="list get")]


def test_eligible_fix_is_a_self_activation_request():
    doc = explain(from_arguments("kv-rbac", APP, "getSecret", None), "snapshot", snapshot(
        eligibilities=[eligibility_row(RBAC, KV_SECRETS_USER, APP, principal_type="ServicePrincipal")]))
    argv = shlex.split(doc["fix"]["commands"][0])
    body = json.loads(argv[argv.index("--body") + 1])
    assert body["properties"]["requestType"] == "SelfActivate" and body["properties"]["principalId"] == APP


def test_propagation_case_lists_the_recent_assignment():
    doc = explain(parse_error(rbac_body()), "snapshot", snapshot(
        assignments=[ra(RBAC, KV_SECRETS_USER, created="2026-11-23T05:57:00.1234567Z")]))
    assert [c["minutesAgo"] for c in doc["recentChanges"]] == [3.0]
    assert doc["propagationWindow"]["minutes"] == 10 and "rbac-guide" in doc["propagationWindow"]["source"]
    assert any("wait and retry" in n for n in doc["fix"]["notes"])


def test_hostile_names_stay_one_argument_each():
    rg = "-rg $(reboot); `id` 'x'"
    doc = explain(from_arguments("kv-ap", APP, "secrets get", None), "snapshot", snapshot(rg=rg))
    argv = shlex.split(doc["fix"]["commands"][0])
    assert f"--resource-group={rg}" in argv, argv
    assert argv[:3] == ["az", "keyvault", "set-policy"]


def test_error_form_disagreeing_with_the_model_is_warned():
    doc = explain(parse_error(policy_body("kv-rbac")), "snapshot", snapshot())
    assert any("ForbiddenByPolicy" in w for w in doc["who"]["warnings"])


DEV = "ffffffff-0000-4000-8000-000000000001"


def test_grant_made_to_a_developer_while_the_app_runs_as_its_identity_is_warned():
    snap = snapshot(assignments=[ra(RBAC, KV_SECRETS_USER, DEV, "User")])
    dev = principal_row(DEV, "user")
    dev["displayName"] = "Dana Developer"
    snap.tables["principals"].append(dev)
    doc = explain(from_arguments("kv-rbac", APP, "getSecret", None), "snapshot", snap)
    assert doc["reason"] == "no-grant"
    assert any("user 'Dana Developer'" in w and "servicePrincipal" in w for w in doc["who"]["warnings"])


def test_grants_to_an_identity_the_directory_no_longer_knows_are_warned():
    doc = explain(from_arguments("kv-rbac", APP, "getSecret", None), "snapshot",
                  snapshot(assignments=[ra(RBAC, KV_SECRETS_USER, GHOST)]))
    assert any(GHOST in w and "deleted" in w for w in doc["who"]["warnings"])


def test_token_from_another_tenant_is_warned():
    text = cli_text().replace(ISS, f"https://sts.windows.net/{OTHER_TENANT}/")
    doc = explain(parse_error(text), "snapshot", snapshot())
    assert doc["who"]["tokenTenant"] == OTHER_TENANT
    assert any("issued by tenant" in w for w in doc["who"]["warnings"])


def test_an_error_the_data_calls_allowed_points_at_the_token():
    doc = explain(parse_error(rbac_body()), "snapshot", snapshot(
        members=[GROUP], assignments=[ra(RBAC, KV_SECRETS_USER, GROUP, "Group")]))
    assert (doc["verdict"], doc["reason"], doc["fix"]["commands"]) == ("allowed", "authorizes", [])
    assert any("fresh token" in n and "membership" in n for n in doc["fix"]["notes"])


def test_object_scoped_grant_without_the_object_is_data_missing():
    doc = explain(from_arguments("kv-rbac", APP, "getSecret", None), "snapshot",
                  snapshot(assignments=[ra(RBAC + "/secrets/api-key", KV_SECRETS_USER)]))
    assert (doc["verdict"], doc["reason"], doc["exitCode"]) == ("unknown", "object-not-named", 3)
    assert any("--vault" in n for n in doc["fix"]["notes"])


def test_uncollected_deny_assignments_are_named():
    snap = snapshot(assignments=[ra(RBAC, KV_SECRETS_USER)])
    del snap.tables["deny_assignments"]
    doc = explain(from_arguments("kv-rbac", APP, "getSecret", None), "snapshot", snap)
    assert doc["verdict"] == "allowed"
    assert any(w.startswith("deny_assignments were not collected") for w in doc["who"]["warnings"])


def test_grants_elsewhere_that_would_not_allow_the_action_are_left_out():
    doc = explain(from_arguments("kv-rbac", APP, "getSecret", None), "snapshot", snapshot(
        assignments=[ra(OTHER, READER), ra(OTHER, KV_SECRETS_USER), ra(RBAC, READER)]))
    assert sorted((g["scope"], g["reason"]) for g in doc["grants"]) == [
        (OTHER, "scope-elsewhere"), (RBAC, "control-plane-only")]
