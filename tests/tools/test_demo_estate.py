"""The embedded demo estate: committed files = generator output, ARG row shapes, and (through the
audit engine) every catalog rule fires while the clean vaults stay clean."""

from __future__ import annotations

import json
import re
from collections import Counter

import pytest

from tools.demo import DEMO_DIR
from tools.demo import deep_demo
from tools.demo import make_demo as demo

GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
TABLES = ("vaults", "subscriptions", "resource_groups", "management_groups", "role_assignments",
          "role_definitions", "role_eligibilities", "deny_assignments", "lighthouse_delegations", "principals",
          "managed_hsms", "vault_objects", "diagnostic_settings", "defender_plans", "perimeter_associations")


def _rows(table: str) -> list[dict]:
    with open(DEMO_DIR / f"{table}.jsonl", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def test_committed_files_equal_generator_output():
    rendered = demo.render()
    assert set(rendered) == {f"{t}.jsonl" for t in TABLES} | {"manifest.json", "README.md"}
    for name, text in rendered.items():
        committed = (DEMO_DIR / name).read_text(encoding="utf-8")
        assert committed == text, f"{name} is stale: run python -m tools.demo.make_demo"


def test_generator_is_deterministic():
    assert demo.render() == demo.render()


def test_manifest():
    manifest = json.loads((DEMO_DIR / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["format"] == "kv-audit-snapshot/1"
    assert manifest["source"] == "demo"
    assert manifest["complete"] is True
    assert manifest["gaps"] == []
    assert manifest["collectedAt"] == demo.COLLECTED_AT
    assert manifest["tables"] == {t: len(_rows(t)) for t in TABLES}


def test_vault_rows_look_like_resource_graph():
    rows = _rows("vaults")
    assert 15 <= len(rows) <= 25
    subs = {r["subscriptionId"] for r in _rows("subscriptions")}
    for r in rows:
        assert r["type"] == "microsoft.keyvault/vaults"
        assert re.match(r"^/subscriptions/[0-9a-f-]{36}/resourceGroups/[^/]+/providers/Microsoft\.KeyVault/vaults/[^/]+$",
                        r["id"]), r["id"]
        assert r["id"].endswith("/" + r["name"])
        assert f"/resourceGroups/{r['resourceGroup']}/" in r["id"]
        assert r["subscriptionId"] in subs
        assert GUID.match(r["tenantId"]) and GUID.match(r["properties"]["tenantId"])
        assert isinstance(r["properties"].get("accessPolicies"), list)
        for e in r["properties"]["accessPolicies"]:
            assert set(e) <= {"tenantId", "objectId", "applicationId", "permissions"}
            assert set(e["permissions"]) <= {"keys", "secrets", "certificates", "storage"}
        for pec in r["properties"].get("privateEndpointConnections", []):
            assert pec["id"].lower().startswith(r["id"].lower() + "/privateendpointconnections/")
            assert pec["properties"]["privateLinkServiceConnectionState"]["status"]


def test_estate_has_the_messiness_the_brief_asks_for():
    vaults = _rows("vaults")
    props = [v["properties"] for v in vaults]
    models = Counter(p.get("enableRbacAuthorization") is True for p in props)
    assert models[True] >= 5 and models[False] >= 5
    old = [p for p in props if not {"enableRbacAuthorization", "publicNetworkAccess", "networkAcls",
                                    "enableSoftDelete"} & set(p)]
    assert old, "an old vault missing all modern properties"
    assert "disabled" in {p.get("publicNetworkAccess") for p in props}
    assert "deny" in {(p.get("networkAcls") or {}).get("defaultAction") for p in props}
    ips = {rule["value"] for p in props for rule in (p.get("networkAcls") or {}).get("ipRules", [])}
    assert {"0.0.0.0/0", "10.0.0.0/8", "1.2.3.4"} <= ips
    statuses = {c["properties"]["privateLinkServiceConnectionState"]["status"]
                for p in props for c in p.get("privateEndpointConnections", [])}
    assert {"Approved", "Pending"} <= statuses
    perms = {name for p in props for e in p["accessPolicies"] for names in e["permissions"].values()
             for name in names}
    assert {"Get", "UnwrapKey"} <= perms
    assert any("applicationId" in e for p in props for e in p["accessPolicies"])
    assert any(e["tenantId"] != p["tenantId"] for p in props for e in p["accessPolicies"])
    assert any(v["tenantId"] != v["properties"]["tenantId"] for v in vaults)
    role_ids = [a["properties"]["roleDefinitionId"] for a in _rows("role_assignments")]
    assert any(re.search(r"^/subscriptions/[^/]+/providers/Microsoft\.Authorization/roleDefinitions/[0-9A-F-]{36}$", i)
               and re.search(r"[A-F]", i.rsplit("/", 1)[1]) for i in role_ids)


def test_containers():
    mgs = {r["name"]: r for r in _rows("management_groups")}
    for r in mgs.values():
        assert r["type"] == "microsoft.management/managementgroups"
        assert r["id"] == f"/providers/Microsoft.Management/managementGroups/{r['name']}"
        chain = r["properties"]["details"]["managementGroupAncestorsChain"]
        assert all(a["name"] in mgs for a in chain)
        if chain:
            assert chain[-1]["name"] == demo.CONTOSO_TENANT  # tenant root last
    assert [a["name"] for a in mgs["corp"]["properties"]["details"]["managementGroupAncestorsChain"]] == \
        ["landing-zones", "contoso", demo.CONTOSO_TENANT]
    subs = _rows("subscriptions")
    assert 4 <= len(subs) <= 8
    for s in subs:
        assert s["type"] == "microsoft.resources/subscriptions"
        assert s["id"] == f"/subscriptions/{s['subscriptionId']}"
        chain = s["properties"]["managementGroupAncestorsChain"]
        if s["subscriptionId"] == demo.SUBS["poc-unplaced"].id:
            assert chain == []   # unknown ancestry, by design
            continue
        assert chain[-1]["name"] == demo.CONTOSO_TENANT and all(a["name"] in mgs for a in chain)


def test_role_definitions_are_the_real_built_ins_plus_custom_roles():
    builtins = {r["name"]: r for r in demo.load_builtin_roles()}
    rows = _rows("role_definitions")
    kinds = Counter(r["properties"]["type"] for r in rows)
    assert kinds["CustomRole"] == 2
    for r in rows:
        assert r["type"] == "microsoft.authorization/roledefinitions"
        assert r["id"].endswith("/providers/Microsoft.Authorization/roleDefinitions/" + r["name"])
        p = r["properties"]
        if p["type"] == "BuiltInRole":
            real = builtins[r["name"]]
            assert p["roleName"] == real["roleName"]
            assert [b["dataActions"] for b in p["permissions"]] == [b["dataActions"] for b in real["permissions"]]
            assert [b["actions"] for b in p["permissions"]] == [b["actions"] for b in real["permissions"]]
    names = {r["properties"]["roleName"] for r in rows}
    assert {"Key Vault Administrator", "Key Vault Secrets User", "Key Vault Secrets Officer",
            "Key Vault Crypto Officer", "Key Vault Crypto Service Encryption User",
            "Key Vault Certificates Officer", "Reader", "Owner", "Contributor",
            "Key Vault Contributor", "Key Vault Reader"} <= names


def test_role_assignments_reference_known_roles_principals_and_scopes():
    defs = {r["name"].lower() for r in _rows("role_definitions")}
    principals = {p["id"] for p in _rows("principals")}
    vault_ids = {v["id"].lower() for v in _rows("vaults")}
    for a in _rows("role_assignments"):
        assert a["type"] == "microsoft.authorization/roleassignments"
        p = a["properties"]
        base = "" if p["scope"] == "/" else p["scope"]
        assert a["id"] == f"{base}/providers/Microsoft.Authorization/roleAssignments/{a['name']}"
        assert p["roleDefinitionId"].rsplit("/", 1)[1].lower() in defs
        assert p["principalId"] in principals or a["tenantId"] != demo.CONTOSO_TENANT  # other tenants: not ours
        assert p["principalType"] in {"User", "Group", "ServicePrincipal"}
        if "/providers/Microsoft.KeyVault/vaults/" in p["scope"]:
            vault = re.match(r"^(.*?/providers/Microsoft\.KeyVault/vaults/[^/]+)", p["scope"]).group(1)
            assert vault.lower() in vault_ids


def test_principals_shape():
    rows = _rows("principals")
    ids = {r["id"] for r in rows}
    for r in rows:
        assert set(r) == {"id", "type", "displayName", "userType", "appId", "memberOf"}
        assert r["type"] in {"user", "group", "servicePrincipal"}
        assert set(r["memberOf"]) <= ids
        assert (r["appId"] is not None) == (r["type"] == "servicePrincipal")
    assert "Guest" in {r["userType"] for r in rows}


# --------------------------------------------------------------------------------------------
# Through the audit engine
# --------------------------------------------------------------------------------------------

#: catalog 2's rule ids in the demo, by how a finding maps back to the design lists (see make_demo.py)
VAULT_RULES = ("access-policy-model", "public-network-open", "public-with-private-endpoint",
               "no-private-endpoint", "soft-delete-disabled", "purge-protection-disabled",
               "vault-tenant-mismatch", "firewall-allows-any")
#: one finding per vault, the entries (or principals) it is about listed in evidence
ENTRY_RULES = ("dead-access-policy", "stranded-access-policy", "full-access-policy", "cross-tenant-access-policy",
               "compound-identity-policy", "migration-gap")
PRINCIPAL_RULES = ("latent-grant", "template-deployment-path")
VAULT_ASSIGNMENT_RULES = ("inert-role-assignment",)
ASSIGNMENT_RULES = ("broad-data-role", "self-grant-path")   # one finding per grant, vaultId null
ROLE_RULES = ("wildcard-custom-role",)                      # one finding per role definition
#: the deeper tables' rules (vault_objects, diagnostic_settings, defender_plans: audit_function/data/demo/deep_demo.py)
DEEP_RULES = ("key-expiry-missing", "secret-expiry-missing", "key-rotation-missing", "audit-logging-missing")
SUBSCRIPTION_RULES = ("defender-for-key-vault-off",)   # one finding per subscription, vaultId null
CATALOG = (VAULT_RULES + ENTRY_RULES + PRINCIPAL_RULES + VAULT_ASSIGNMENT_RULES + ASSIGNMENT_RULES + ROLE_RULES
           + DEEP_RULES + SUBSCRIPTION_RULES)
PENDING: tuple[str, ...] = ()
#: the project's rules beyond catalog 2 (docs/contracts/README.md): the demo shows each too
PROJECT_RULES = ("perimeter-allows-public",)


def test_design_covers_every_catalog_rule():
    assert len(set(CATALOG)) == 25
    designed = {d[0] for v in demo.VAULTS for d in v.design} | \
        {d[0] for a in demo.ASSIGNMENTS + demo.ELIGIBILITIES for d in a.design} | \
        {d[0] for lh in demo.LIGHTHOUSE for d in lh["design"]} | \
        {d[0] for d in deep_demo.SUBSCRIPTION_DESIGN} | {d[0] for h in deep_demo.HSMS for d in h[5]}
    assert designed == set(CATALOG + PROJECT_RULES)
    for name in demo.CLEAN_VAULTS:
        assert demo.VAULTS_BY_NAME[name].design == []


@pytest.fixture(scope="module")
def report() -> dict:
    from audit_function.pipeline import run as audit

    outcome = audit.run_audit(audit.AuditOptions(source="demo", formats=("json",)))
    return outcome.result.report


def test_demo_audit_is_complete(report):
    assert report["run"]["complete"] is True
    assert report["run"]["gaps"] == []
    # the one vault whose subscription has no management-group chain: not evaluated, never passed
    unplaced = demo.VAULTS_BY_NAME["kv-poc-unplaced"].id
    assert sorted((n["ruleId"], n["vaultId"]) for n in report["run"]["notEvaluated"]) == [
        ("dead-access-policy", unplaced), ("stranded-access-policy", unplaced)]
    assert all("management-group ancestry" in n["reason"] for n in report["run"]["notEvaluated"])
    assert report["summary"]["vaults"] == len(demo.VAULTS)
    assert report["summary"]["managedHsms"] == len(deep_demo.HSMS)
    assert len(report["vaults"]) == len(demo.VAULTS) + len(deep_demo.HSMS)   # the inventory lists HSM pools too
    assert report["schemaVersion"] == "2.0"


def test_coverage_lists_every_source(report):
    from audit_function.report.coverage import SOURCES

    coverage = {c["source"]: c for c in report["run"]["coverage"]}
    assert list(coverage) == list(SOURCES)
    for source in ("role assignments", "role definitions", "eligible assignments (PIM)", "deny assignments",
                   "directory data (Microsoft Graph)", "Azure Lighthouse delegations", "Managed HSM pools",
                   "key and secret metadata", "diagnostic settings", "Defender for Key Vault plans",
                   "network security perimeters"):
        assert coverage[source]["state"] == "collected", source
    assert coverage["management-group ancestry"]["state"] == "partial"   # kv-poc-unplaced
    for source in ("classic subscription administrators", "Managed HSM data plane (local RBAC)"):
        assert coverage[source]["state"] == "not collected" and coverage[source]["note"], source


def test_fix_first_ranks_by_severity_then_reach(report):
    by_fp = {f["fingerprint"]: f for f in report["findings"]}
    first = [by_fp[fp] for fp in report["summary"]["fixFirst"]]
    assert 0 < len(first) <= 25
    assert all(f["severity"] == "high" for f in first[:5])
    # the break-glass User Access Administrator at / reaches every vault: it leads
    assert first[0]["ruleId"] == "self-grant-path" and first[0]["affected"]["vaults"] == len(demo.VAULTS)


def test_the_engine_implements_the_catalog():
    from rules import RULE_IDS

    assert sorted(RULE_IDS) == sorted(CATALOG + PROJECT_RULES)
    assert not set(PENDING) & set(RULE_IDS)


@pytest.mark.parametrize("rule_id", CATALOG + PROJECT_RULES)
def test_every_catalog_rule_fires(report, rule_id):
    assert report["summary"]["byRule"].get(rule_id, 0) > 0


@pytest.mark.parametrize("name", demo.CLEAN_VAULTS)
def test_clean_vaults_have_no_findings(report, name):
    vault_id = demo.VAULTS_BY_NAME[name].id.lower()
    found = [f["ruleId"] for f in report["findings"] if (f.get("vaultId") or "").lower() == vault_id]
    assert found == []
    row = next(v for v in report["vaults"] if v["id"].lower() == vault_id)
    assert row["findingCount"] == 0


def _keys():
    principals = {p.id.lower(): p.key for p in demo.PRINCIPALS.values()}
    assignments = {a.id.lower(): a.key for a in demo.ASSIGNMENTS + demo.ELIGIBILITIES}
    assignments.update(demo.lighthouse_grant_ids())
    return principals, assignments


def _designed_pairs(f: dict, principals: dict, assignments: dict) -> list[tuple]:
    """What one catalog-2 finding stands for in the design lists: (rule, subject) pairs."""
    rule, ev = f["ruleId"], f.get("evidence") or {}
    if rule in ENTRY_RULES:
        return [(rule, principals.get(e["objectId"].lower(), e["objectId"])) for e in ev["entries"]]
    if rule in PRINCIPAL_RULES:
        return [(rule, principals.get(p["principalId"].lower(), p["principalId"])) for p in ev["principals"]]
    if rule in VAULT_ASSIGNMENT_RULES + ASSIGNMENT_RULES:
        return [(rule, "@" + assignments.get((f.get("assignmentId") or "").lower(), str(f.get("assignmentId"))))]
    if rule in ROLE_RULES:
        return [(rule, "@" + assignments[g["assignmentId"].lower()]) for g in ev["grants"]]
    return [(rule,)]


@pytest.mark.parametrize("name", [v.name for v in demo.VAULTS])
def test_vault_findings_match_the_design(report, name):
    """Each vault produces exactly the findings its design list (and the README table) names."""
    vault = demo.VAULTS_BY_NAME[name]
    principals, assignments = _keys()
    found = [f for f in report["findings"] if (f.get("vaultId") or "").lower() == vault.id.lower()]
    assert all(f["subject"] in ("vault", "grant") for f in found)
    assert len({f["ruleId"] for f in found if f["subject"] == "vault"}) == \
        len([f for f in found if f["subject"] == "vault"]), "one finding per (rule, vault)"
    actual = Counter(pair for f in found for pair in _designed_pairs(f, principals, assignments))
    assert actual == Counter(tuple(d) for d in vault.design)


def test_assignment_level_findings_match_the_design(report):
    principals, assignments = _keys()
    actual = Counter(pair for f in report["findings"] if f["ruleId"] in ASSIGNMENT_RULES + ROLE_RULES
                     for pair in _designed_pairs(f, principals, assignments))
    designed = Counter((d[0], "@" + a.key) for a in demo.ASSIGNMENTS + demo.ELIGIBILITIES for d in a.design)
    designed.update((d[0], "@" + lh["key"]) for lh in demo.LIGHTHOUSE for d in lh["design"])
    assert actual == designed


def test_another_tenants_root_grant_reaches_none_of_this_tenants_vaults(report):
    fabrikam_root = next(a for a in demo.ASSIGNMENTS if a.key == "fabrikam-root-uaa").id.lower()
    assert not [f for f in report["findings"] if (f.get("assignmentId") or "").lower() == fabrikam_root]


def test_lighthouse_authorization_is_a_grant_named_from_the_delegation(report):
    (f,) = [f for f in report["findings"] if "/providers/Microsoft.ManagedServices/" in (f["assignmentId"] or "")]
    assert f["ruleId"] == "self-grant-path" and f["principalName"] == "Fabrikam MSP Operations"
    assert f["affected"] == {"vaults": 1, "rbac": 0, "accessPolicy": 1}


def test_one_finding_per_cause(report):
    subject_id = {"vault": "vaultId", "grant": "assignmentId", "roleDefinition": "roleDefinitionId",
                  "subscription": "subscriptionId"}
    subjects = Counter((f["ruleId"], f[subject_id[f["subject"]]].lower()) for f in report["findings"])
    assert max(subjects.values()) == 1
    assert len({f["fingerprint"] for f in report["findings"]}) == len(report["findings"])


def _finding_keys(rep: dict) -> Counter:
    return Counter((f["ruleId"], (f.get("vaultId") or "").lower(), (f.get("principalId") or "").lower(),
                    (f.get("assignmentId") or "").lower()) for f in rep["findings"])


def test_design_does_not_depend_on_group_expansion(report):
    """No policy-entry principal is a member of a group holding a Key Vault role, so the audit
    without principals.jsonl finds exactly the same things (only the evidence wording differs)."""
    from audit_function.pipeline import run as audit
    from audit_function.snapshot.load import RawSnapshot

    raw = RawSnapshot(tables={t: _rows(t) for t in TABLES if t != "principals"},
                      manifest=json.loads((DEMO_DIR / "manifest.json").read_text(encoding="utf-8")))
    without = audit.run_audit(audit.AuditOptions(source="snapshot", snapshot=raw, formats=("json",))).result.report
    assert without["run"]["directoryData"] is False
    assert _finding_keys(without) == _finding_keys(report)


def test_scope_prefix_trap(report):
    """The RG-scope Key Vault Reader on rg-monitoring must not reach rg-monitoring-grafana."""
    key = next(a for a in demo.ASSIGNMENTS if a.key == "monitoring-kv-reader").id.lower()
    f = next(f for f in report["findings"]
             if f["ruleId"] == "broad-data-role" and (f.get("assignmentId") or "").lower() == key)
    assert f["evidence"]["vaultsCovered"] == 0


def test_migration_verdicts_match_the_design(report):
    """Every access-policy vault gets a plan entry with its designed verdict (kv-corp-shared is the
    migration-ready one); all four verdicts occur."""
    designed = {v.id.lower(): v.verdict for v in demo.VAULTS if v.rbac is not True}
    assert None not in designed.values()
    assert set(designed.values()) == {"ready", "needs-assignments", "review-latent-grants", "blocked"}
    assert demo.VAULTS_BY_NAME["kv-corp-shared"].verdict == "ready"
    actual = {m["vaultId"].lower(): m["readiness"] for m in report["migration"]}
    assert actual == designed


def test_demo_owners_come_from_the_vault_its_resource_group_or_its_subscription():
    from audit_function.pipeline.run import AuditOptions, run_audit

    report = run_audit(AuditOptions(source="demo", formats=("json",))).result.report
    by_vault: dict[str, set] = {}
    for f in report["findings"]:
        if f["subject"] == "vault":
            by_vault.setdefault(f["vaultName"], set()).add(f["owner"])
    assert by_vault["kv-payments-dev"] == {"payments-team@contoso.com"}      # the vault's own tag
    assert by_vault["kv-web-certs"] == {"web-platform@contoso.com"}          # its resource group's owner
    assert by_vault["kv-lab-rbac"] == {"lab-admins@contoso.com"}             # ... technicalContact
    assert by_vault["kv-automation"] == {"platform-ops@contoso.com"}         # its subscription's owner
    groups = {r["name"] for r in _rows("resource_groups")}
    assert {r["resourceGroup"] for r in _rows("vaults")} == groups
    grants = {f["assignmentId"]: f["owner"] for f in report["findings"] if f["subject"] == "grant"}
    at_mg = [o for a, o in grants.items() if a.lower().startswith("/providers/microsoft.management/")]
    assert at_mg and set(at_mg) == {None}                                     # management groups: nobody
    online = demo.SUBS["online-prod"].scope.lower()
    at_online = [o for a, o in grants.items() if a.lower().startswith(online + "/providers/")]
    assert at_online and set(at_online) == {"online-platform@contoso.com"}   # the subscription's 'Owner' tag
    assert all(f["owner"] is None or isinstance(f["owner"], str) for f in report["findings"])
@pytest.mark.parametrize("hsm", deep_demo.HSMS, ids=lambda h: h[0])
def test_managed_hsm_findings_match_the_design(report, hsm):
    name, sub, rg, _, _, design = hsm
    hid = deep_demo.hsm_id(demo.SUBS, name, sub, rg).lower()
    found = Counter((f["ruleId"],) for f in report["findings"] if (f.get("vaultId") or "").lower() == hid)
    assert found == Counter(design)
    row = next(v for v in report["vaults"] if v["id"].lower() == hid)
    assert row["resourceType"] == "Microsoft.KeyVault/managedHSMs" and row["permissionModel"] == "managedHsmLocalRbac"


def test_subscription_findings_match_the_design(report):
    by_id = {s.id.lower(): key for key, s in demo.SUBS.items()}
    found = Counter((f["ruleId"], by_id[f["subscriptionId"].lower()]) for f in report["findings"]
                    if f["subject"] == "subscription")
    assert found == Counter(deep_demo.SUBSCRIPTION_DESIGN)
    (f,) = [f for f in report["findings"] if f["ruleId"] == "defender-for-key-vault-off"]
    sandbox = [v.name for v in demo.VAULTS if v.sub == "sandbox"] + [h[0] for h in deep_demo.HSMS if h[1] == "sandbox"]
    assert sorted(v["name"] for v in f["evidence"]["vaults"]) == sorted(sandbox)
    assert f["evidence"]["pricingTier"] == "Free"


#: evidence and plan fields that may name data actions in full: the actionable, short ones (report 2)
_ACTION_LISTS = {"excess", "materialExcess", "withoutAccessPolicyEquivalent", "controlActions", "dataActions",
                 "DataActions", "dataActionWildcards", "actionWildcards", "matchedDataActions", "notDataActions"}


def _action_lists(node, key=None):
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _action_lists(v, k)
    elif isinstance(node, list):
        if node and all(isinstance(x, str) and x.startswith("Microsoft.KeyVault/vaults/") for x in node):
            yield key
        for x in node:
            yield from _action_lists(x, key)


def test_report_evidence_is_compact(report):
    # a role's data actions are named once (roles); evidence and plans say sets of actions in words
    from audit_function import permissions as perms

    assert {k for f in report["findings"] for k in _action_lists(f)} <= _ACTION_LISTS
    assert {k for p in report["migration"] for k in _action_lists(p)} <= _ACTION_LISTS
    custom = [e["customRole"] for p in report["migration"] for e in p["entries"] if e["customRole"]]
    assert all(k == "dataActions" or k == "DataActions" for c in custom for k in _action_lists(c))
    gains = [p for f in report["findings"] if f["ruleId"] == "latent-grant" for p in f["evidence"]["principals"]]
    assert gains and all(perms.from_words(p["widenedDataActionsInWords"]).bit_count() == p["widenedDataActionsCount"]
                         for p in gains)
    for p in report["migration"]:   # plans name roles by id: ``roles`` says what each grants
        for g in p["gainers"]:
            assert g["roleIds"] and set(g["roleIds"]) <= set(report["roles"]) and g["assignmentIds"]
        for e in p["entries"]:
            assert all(r in report["roles"] for r in e["proposedRoles"] if not e["customRole"])
