"""Deleted identities: object ids of the directory's own tenant that the directory data lacks.

Evidence calls them out (``deletedIdentity: true``) on grant findings and on per-principal items;
ids Graph did not report as not found, other tenants' ids and Lighthouse grants never are.
"""

from audit_function.estate.directory import deleted_identities
from audit_function.snapshot.load import RawSnapshot, load_estate
from rules import full_access_policy, latent_grant, self_grant_path
from tests.factories import (CONTRIBUTOR, KV_ADMIN, OTHER_TENANT, TENANT, assignment_row,
                             builtin_definition_rows, policy, principal_row, rg_scope, run_rules,
                             subscription_row, vault_id, vault_row)

GONE = "dddddddd-0000-0000-0000-000000000001"
HERE = "aaaaaaaa-0000-0000-0000-000000000001"
FOREIGN = "ffffffff-0000-0000-0000-000000000001"
SCOPE = {"scope": {"tenantId": TENANT}, "directory": {"notFound": [GONE]}}


def _estate(*, principals=(), assignments=(), policies=(), manifest=None):
    tables = {"subscriptions": [subscription_row()], "vaults": [vault_row(rbac=False, policies=list(policies))],
              "role_assignments": list(assignments), "role_definitions": builtin_definition_rows(*assignments)}
    if principals is not None:
        tables["principals"] = [principal_row(p) for p in principals]
    return load_estate(RawSnapshot(tables=tables, manifest={"format": "kv-audit-snapshot/1", **(manifest or {})}))


def test_a_grant_or_entry_whose_id_the_directory_lacks_is_deleted():
    estate = _estate(principals=[HERE], assignments=[assignment_row(rg_scope(), CONTRIBUTOR, GONE)],
                     policies=[policy(HERE, secrets=["get"]), policy(GONE, secrets=["get"])], manifest=SCOPE)
    assert deleted_identities(estate) == {GONE}


def test_without_graphs_answer_or_the_directory_tenant_nothing_is_called_deleted():
    grant = assignment_row(rg_scope(), CONTRIBUTOR, GONE)
    assert deleted_identities(_estate(principals=[HERE], assignments=[grant], manifest={"scope": {"tenantId": TENANT}})) == frozenset()
    assert deleted_identities(_estate(principals=[HERE], assignments=[grant],
                                      manifest={"directory": {"notFound": [GONE]}})) == frozenset()


def test_without_directory_data_nothing_is_called_deleted():
    estate = _estate(principals=None, assignments=[assignment_row(rg_scope(), CONTRIBUTOR, GONE)])
    assert deleted_identities(estate) == frozenset()


def test_other_tenants_ids_are_never_deleted():
    estate = _estate(principals=[], policies=[policy(FOREIGN, tenant=OTHER_TENANT, secrets=["get"])],
                     assignments=[assignment_row(rg_scope(), CONTRIBUTOR, FOREIGN, tenant=OTHER_TENANT)],
                     manifest={**SCOPE, "directory": {"notFound": [FOREIGN]}})
    assert deleted_identities(estate) == frozenset()


def test_graphs_not_found_list_decides_when_the_collection_recorded_it():
    # GONE was reported not found; HERE-2 only failed to resolve (throttled): not called deleted
    unanswered = "bbbbbbbb-0000-0000-0000-000000000002"
    estate = _estate(principals=[HERE], assignments=[assignment_row(rg_scope(), CONTRIBUTOR, GONE),
                                                     assignment_row(rg_scope(), CONTRIBUTOR, unanswered)],
                     manifest={**SCOPE, "directory": {"notFound": [GONE.upper()], "unresolved": 1}})
    assert deleted_identities(estate) == {GONE}


def test_grant_finding_and_its_message_call_out_the_deleted_identity():
    run = run_rules((self_grant_path,), vaults=[vault_row(rbac=False)], principals=[principal_row(HERE)],
                    assignments=[assignment_row(rg_scope(), CONTRIBUTOR, GONE, principal_type="ServicePrincipal"),
                                 assignment_row(rg_scope(), CONTRIBUTOR, HERE)], manifest=SCOPE)
    by_principal = {f["principalId"]: f for f in run.of("self-grant-path")}
    assert by_principal[GONE]["evidence"]["deletedIdentity"] is True
    assert by_principal[GONE]["principalName"] is None
    assert f"{GONE} (a deleted identity)" in by_principal[GONE]["message"]
    assert "deletedIdentity" not in by_principal[HERE]["evidence"]


def test_entry_items_and_gainers_call_out_the_deleted_identity():
    vault = vault_row(rbac=False, policies=[policy(GONE, secrets=["all"]), policy(HERE, secrets=["all"])])
    run = run_rules((full_access_policy,), vaults=[vault], principals=[principal_row(HERE)], manifest=SCOPE)
    (full,) = run.of("full-access-policy")
    flags = {item["objectId"]: item.get("deletedIdentity") for item in full["evidence"]["entries"]}
    assert flags == {GONE: True, HERE: None}
    # the deleted identity's Key Vault Administrator grant would widen its access on the flip
    run = run_rules((latent_grant,), vaults=[vault_row(rbac=False, policies=[policy(GONE, secrets=["get"])])],
                    principals=[principal_row(HERE)], manifest=SCOPE,
                    assignments=[assignment_row(vault_id(), KV_ADMIN, GONE)])
    (latent,) = run.of("latent-grant")
    assert [p.get("deletedIdentity") for p in latent["evidence"]["principals"]] == [True]


def test_without_directory_data_evidence_says_nothing_of_deletion():
    run = run_rules((self_grant_path,), vaults=[vault_row(rbac=False)],
                    assignments=[assignment_row(rg_scope(), CONTRIBUTOR, GONE)], manifest=SCOPE)
    (f,) = run.of("self-grant-path")
    assert "deletedIdentity" not in f["evidence"] and "deleted" not in f["message"]


def test_the_directory_tenant_comes_from_the_graph_tokens_tid():
    import base64
    import json

    from audit_function.collect.graph_client import token_tenant

    class Token:
        def __init__(self, token):
            self.token = token

    class Credential:
        def __init__(self, token):
            self.value = token

        def get_token(self, *scopes):
            return Token(self.value)

    claims = base64.urlsafe_b64encode(json.dumps({"tid": TENANT.upper()}).encode()).rstrip(b"=").decode()
    assert token_tenant(Credential(f"e30.{claims}.sig"), "https://graph.microsoft.com/.default") == TENANT
    assert token_tenant(Credential("opaque-token"), "scope") is None
    estate = _estate(principals=[HERE], assignments=[assignment_row(rg_scope(), CONTRIBUTOR, GONE)],
                     manifest={"directory": {"notFound": [GONE], "tenantId": TENANT}})
    assert deleted_identities(estate) == {GONE}
