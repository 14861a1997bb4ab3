"""The synthetic estate's tables, written row by row: role assignments, vaults, subscriptions,
management groups, role definitions, principals (bench/generate_estate.py)."""

from __future__ import annotations

import json
import random

from estate_shapes import APPS, AUTHZ, ENVS, Estate, IP_POOL, LOCATIONS, MGP, PERM_TABLE, Writer, _hex_guid, lookup_table, rand_guid, role_definition_row, stable_guid  # noqa: E402  (a sibling module: bench/ is on sys.path)


ASSIGNMENT_TYPE = {"servicePrincipal": "ServicePrincipal", "user": "User", "group": "Group"}

# roles usually seen at each scope (weights); "custom" means one of the generated custom roles
ROLES_MG = {"Reader": 40, "Owner": 4, "Contributor": 6, "Security Reader": 15, "User Access Administrator": 3,
            "Monitoring Reader": 14, "Key Vault Reader": 5, "Key Vault Administrator": 2,
            "Key Vault Secrets User": 2, "custom": 1}
ROLES_SUB = {"Reader": 35, "Contributor": 25, "Owner": 12, "User Access Administrator": 2, "Security Reader": 6,
             "Monitoring Reader": 5, "Cost Management Reader": 4, "Storage Blob Data Reader": 4,
             "Key Vault Secrets User": 3, "Key Vault Reader": 2, "Key Vault Administrator": 1,
             "Key Vault Secrets Officer": 1, "custom": 2}
ROLES_RG = {"Contributor": 35, "Reader": 25, "Owner": 8, "Storage Blob Data Contributor": 6,
            "Website Contributor": 5, "Virtual Machine Contributor": 4, "Storage Account Contributor": 3,
            "Network Contributor": 2, "Key Vault Secrets User": 5, "Key Vault Secrets Officer": 2,
            "Key Vault Contributor": 2, "Key Vault Crypto Service Encryption User": 1, "AcrPull": 1, "custom": 3}
ROLES_VAULT = {"Key Vault Secrets User": 45, "Key Vault Crypto Service Encryption User": 12,
               "Key Vault Secrets Officer": 10, "Key Vault Administrator": 6, "Key Vault Crypto User": 6,
               "Key Vault Certificate User": 4, "Key Vault Certificates Officer": 3, "Key Vault Crypto Officer": 4,
               "Key Vault Reader": 4, "Key Vault Contributor": 3, "Reader": 2, "custom": 1}
ROLES_ROOT = {"User Access Administrator": 2, "Owner": 1, "Reader": 1}
OBJECT_KINDS = {("secrets", "Key Vault Secrets User"): 70, ("keys", "Key Vault Crypto User"): 15,
                ("certificates", "Key Vault Certificate User"): 15}
RESOURCE_KINDS = {  # (provider/type, name prefix) -> roles
    ("Microsoft.Storage/storageAccounts", "st"): {"Storage Blob Data Reader": 30, "Storage Blob Data Contributor": 30,
                                                 "Storage Queue Data Contributor": 10,
                                                 "Storage Table Data Contributor": 5, "Reader": 10,
                                                 "Contributor": 10, "Storage Account Contributor": 5},
    ("Microsoft.Web/sites", "app-"): {"Website Contributor": 40, "Contributor": 30, "Reader": 30},
    ("Microsoft.Compute/virtualMachines", "vm-"): {"Virtual Machine Contributor": 30,
                                                  "Virtual Machine Administrator Login": 20,
                                                  "Virtual Machine User Login": 30, "Reader": 20},
    ("Microsoft.Sql/servers", "sql-"): {"SQL DB Contributor": 40, "SQL Server Contributor": 30, "Reader": 30},
    ("Microsoft.ContainerRegistry/registries", "acr"): {"AcrPull": 70, "AcrPush": 30},
    ("Microsoft.DocumentDB/databaseAccounts", "cosmos-"): {"Cosmos DB Account Reader Role": 50,
                                                          "DocumentDB Account Contributor": 50},
    ("Microsoft.EventHub/namespaces", "evhns-"): {"Azure Event Hubs Data Sender": 50,
                                                 "Azure Event Hubs Data Receiver": 50},
    ("Microsoft.ServiceBus/namespaces", "sbns-"): {"Azure Service Bus Data Sender": 50,
                                                  "Azure Service Bus Data Receiver": 50},
}
RESOURCE_WEIGHTS = {k: w for k, w in zip(RESOURCE_KINDS, (30, 20, 15, 10, 8, 7, 5, 5))}
# category of one assignment (per mille). Management-group and root assignments do not grow with
# the estate the way the others do: about three per management group (at most 0.5 % of all
# assignments) and a handful at "/" (placed first).
CATEGORY = {"resource": 595, "rg": 250, "sub": 60, "vault": 80, "object": 15}
MG_ASSIGNMENTS_PER_MG = 3

ASSIGNMENT_TEMPLATE = (
    '{"id":"%s/providers/Microsoft.Authorization/roleAssignments/%s","name":"%s",'
    '"type":"microsoft.authorization/roleassignments","tenantId":"%s","subscriptionId":"%s","resourceGroup":"%s",'
    '"properties":{"roleDefinitionId":"%s","principalId":"%s","principalType":"%s","scope":"%s",'
    '"condition":%s,"conditionVersion":%s,"createdOn":"%s","updatedOn":"%s","createdBy":"%s","description":"%s"}}\n'
)
CONDITION = ('"((!(ActionMatches{\'Microsoft.KeyVault/vaults/secrets/getSecret/action\'})) OR '
             '(@Resource[Microsoft.KeyVault/vaults/secrets:name] StringStartsWith \'app-\'))"')


def _timestamps(rng: random.Random, n: int = 4096) -> list[str]:
    out = []
    for _ in range(n):
        out.append("%04d-%02d-%02dT%02d:%02d:%02d.%07dZ" % (
            rng.randint(2017, 2025), rng.randint(1, 12), rng.randint(1, 28), rng.randint(0, 23),
            rng.randint(0, 59), rng.randint(0, 59), rng.randrange(10_000_000)))
    return sorted(out)


def write_role_assignments(est: Estate, w: Writer, role_guids: dict) -> None:
    rng = random.Random(f"{est.seed}:role-assignments")
    rnd, getrandbits = rng.random, rng.getrandbits
    custom_guids = [r["name"] for r in est.custom] or [role_guids["Reader"]]
    tables = {cat: lookup_table(weights) for cat, weights in (
        ("mg", ROLES_MG), ("sub", ROLES_SUB), ("rg", ROLES_RG), ("vault", ROLES_VAULT), ("root", ROLES_ROOT))}
    res_table = lookup_table(RESOURCE_WEIGHTS)
    res_roles = {k: lookup_table(v) for k, v in RESOURCE_KINDS.items()}
    obj_table = lookup_table(OBJECT_KINDS)
    cat_table = lookup_table(CATEGORY)
    if est.n_vaults == 0:
        cat_table = ["rg" if c in ("vault", "object") else c for c in cat_table]
    stamps = _timestamps(rng)
    n_stamps = len(stamps)
    tenant, sub_ids, pids, n_p = est.tenant, est.sub_ids, est.principal_ids, est.n_principals
    mg_names, n_mg = est.mg_names, len(est.mg_names)
    n_vaults, n_subs = est.n_vaults, est.n_subs
    ptype = [ASSIGNMENT_TYPE[est.principal_type(k)] for k in range(10)]
    creators = [k for k in range(min(n_p, 200)) if est.principal_type(k) != "group"]
    n_root = max(1, min(8, round(est.n_assignments * 0.00002)))
    p_mg = min(0.005, MG_ASSIGNMENTS_PER_MG * len(mg_names) / max(1, est.n_assignments))

    def role_id(name: str, sub: str, upper: bool) -> str:
        guid = custom_guids[getrandbits(30) % len(custom_guids)] if name == "custom" else role_guids[name]
        if upper:
            guid = guid.upper()
        return f"/subscriptions/{sub}{AUTHZ}/roleDefinitions/{guid}" if sub else f"{AUTHZ}/roleDefinitions/{guid}"

    for j in range(est.n_assignments):
        cat = "root" if j < n_root else "mg" if rnd() < p_mg else cat_table[int(rnd() * 1000)]
        sub = rg = ""
        condition = "null"
        if cat == "root":
            scope, role = "/", tables["root"][int(rnd() * 1000)]
        elif cat == "mg":
            scope, role = MGP + mg_names[getrandbits(30) % n_mg], tables["mg"][int(rnd() * 1000)]
        elif cat in ("vault", "object"):
            i = getrandbits(40) % n_vaults
            s, r, name = est.vault_place(i)
            sub, rg = sub_ids[s], est.rg_name(s, r)
            scope = f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.KeyVault/vaults/{name}"
            if cat == "vault":
                role = tables["vault"][int(rnd() * 1000)]
                if role == "Key Vault Secrets User" and rnd() < 0.03:
                    condition = CONDITION
            else:
                kind, role = obj_table[int(rnd() * 1000)]
                scope = f"{scope}/{kind}/{APPS[getrandbits(8) % len(APPS)]}-{kind[:-1]}-{getrandbits(12):03x}"
        else:
            # Subscription and resource-group assignments are spread evenly: every subscription has
            # its own handful of owners and contributors. (Skewing them like the vaults would give
            # the few big shared subscriptions hundreds of Owners each, which real tenants do not
            # have, and multiply self-grant findings quadratically.) Non-vault resources follow the
            # vaults' skew: big subscriptions hold more resources.
            s = est.skewed_sub(rnd()) if cat == "resource" else getrandbits(30) % n_subs
            sub = sub_ids[s]
            if cat == "sub":
                scope, role = f"/subscriptions/{sub}", tables["sub"][int(rnd() * 1000)]
            else:
                rg = est.rg_name(s, getrandbits(16) % est.rg_count(s))
                scope = f"/subscriptions/{sub}/resourceGroups/{rg}"
                if cat == "rg":
                    role = tables["rg"][int(rnd() * 1000)]
                else:
                    kind = res_table[int(rnd() * 1000)]
                    rtype, prefix = kind
                    scope = f"{scope}/providers/{rtype}/{prefix}{APPS[getrandbits(8) % len(APPS)]}{getrandbits(24):06x}"
                    role = res_roles[kind][int(rnd() * 1000)]
        k = min(n_p - 1, int(n_p * rnd() ** 2))  # skewed: some principals hold many assignments
        name = _hex_guid("%032x" % getrandbits(128))
        stamp = stamps[getrandbits(20) % n_stamps]
        w.write(ASSIGNMENT_TEMPLATE % (
            "" if scope == "/" else scope, name, name, tenant, sub, rg,
            role_id(role, sub, rnd() < 0.01), pids[k], ptype[k % 10], scope,
            condition, '"2.0"' if condition != "null" else "null", stamp, stamp,
            pids[creators[getrandbits(16) % len(creators)]], ""))


def _vault_row(est: Estate, i: int, rng: random.Random) -> str:
    rnd, getrandbits = rng.random, rng.getrandbits
    s, r, name = est.vault_place(i)
    sub, rg = est.sub_ids[s], est.rg_name(s, r)
    vid = f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.KeyVault/vaults/{name}"
    era = rnd()
    vault_tenant = est.tenant if rnd() > 0.001 else est.foreign_tenants[0]
    props = ['"sku":{"family":"A","name":"%s"}' % ("premium" if rnd() < 0.15 else "standard"),
             '"tenantId":"%s"' % vault_tenant]
    old = era < 0.08
    if old:
        rbac = None
    elif era < 0.35:
        rbac = False if rnd() < 0.7 else None
    else:
        rbac = rnd() < 0.65
    # access policy entries
    if rbac:
        n = 0 if rnd() < 0.75 else 1 + getrandbits(3)
    elif rnd() < 0.003:
        n = 200 + getrandbits(10) % 825  # the few giants (ARM caps at 1024)
    else:
        n = min(40, int(rng.expovariate(1 / 6.0)))
    entries = []
    for _ in range(n):
        k = min(est.n_principals - 1, int(est.n_principals * rnd()))
        x = rnd()
        tenant = vault_tenant if x > 0.015 else est.foreign_tenants[1 + (k & 1)]
        app = ',"applicationId":"%s"' % est.principal_ids[(k * 7 + 3) % est.n_principals] if x > 0.995 else ""
        entries.append('{"tenantId":"%s","objectId":"%s"%s,"permissions":%s}' % (
            tenant, est.principal_ids[k], app, PERM_TABLE[int(rnd() * 1000)]))
    props.append('"accessPolicies":[%s]' % ",".join(entries))
    props.append('"enabledForDeployment":%s,"enabledForDiskEncryption":%s,"enabledForTemplateDeployment":%s' % (
        "true" if rnd() < 0.1 else "false", "true" if rnd() < 0.2 else "false", "true" if rnd() < 0.15 else "false"))
    if not old:
        props.append('"enableSoftDelete":%s,"softDeleteRetentionInDays":%d' % (
            "false" if rnd() < 0.02 else "true", (90, 90, 90, 30, 7)[getrandbits(8) % 5]))
    if rbac is not None:
        props.append('"enableRbacAuthorization":%s' % ("true" if rbac else "false"))
    if not old and rnd() < 0.55:
        props.append('"enablePurgeProtection":true')
    public = None if old or rnd() < 0.1 else ("Disabled" if rnd() < 0.38 else "Enabled")
    if public == "Disabled" and rnd() < 0.05:
        public = "disabled"
    a = rnd()
    if not old and a > 0.3:
        if a < 0.55:
            acls = '{"bypass":"AzureServices","defaultAction":"Allow","ipRules":[],"virtualNetworkRules":[]}'
        else:
            ips = [IP_POOL[getrandbits(8) % len(IP_POOL)] for _ in range(getrandbits(3) % 5)]
            if rnd() < 0.02:
                ips.append("0.0.0.0/0")
            acls = '{"bypass":"%s","defaultAction":"%s","ipRules":[%s],"virtualNetworkRules":[]}' % (
                "AzureServices" if rnd() < 0.9 else "None", "deny" if rnd() < 0.03 else "Deny",
                ",".join('{"value":"%s"}' % ip for ip in dict.fromkeys(ips)))
        props.append('"networkAcls":%s' % acls)
    props.append('"vaultUri":"https://%s.vault.azure.net/","provisioningState":"Succeeded"' % name)
    n_pe = (1 if rnd() < 0.9 else 2) if public in ("Disabled", "disabled") else (1 if rnd() < 0.1 else 0)
    if n_pe:
        pes = []
        for p in range(n_pe):
            x = rnd()
            status = "Approved" if x < 0.85 else "Pending" if x < 0.95 else "Rejected"
            pe = f"pe-{name}-{p}"
            pes.append(
                '{"id":"%s/privateEndpointConnections/%s.%s","etag":"","properties":{"privateEndpoint":{"id":'
                '"/subscriptions/%s/resourceGroups/rg-network-%s/providers/Microsoft.Network/privateEndpoints/%s"},'
                '"privateLinkServiceConnectionState":{"status":"%s","description":"","actionsRequired":"None"},'
                '"provisioningState":"Succeeded"}}' % (vid, pe, rand_guid(rng), sub, ENVS[s % len(ENVS)], pe, status))
        props.append('"privateEndpointConnections":[%s]' % ",".join(pes))
    if public is not None:
        props.append('"publicNetworkAccess":"%s"' % public)
    app = name.split("-")[1]
    tags = '{"env":"%s","owner":"%s-team@contoso.com","app":"%s"}' % (ENVS[(s + r) % len(ENVS)], app, app) \
        if rnd() < 0.8 else "{}"
    return ('{"id":"%s","name":"%s","type":"microsoft.keyvault/vaults","tenantId":"%s","kind":"","location":"%s",'
            '"resourceGroup":"%s","subscriptionId":"%s","managedBy":"","sku":null,"plan":null,"properties":{%s},'
            '"tags":%s,"identity":null,"zones":null,"extendedLocation":null}\n' % (
                vid, name, est.tenant, LOCATIONS[s % len(LOCATIONS)], rg, sub, ",".join(props), tags))


def write_vaults(est: Estate, w: Writer) -> None:
    rng = random.Random(f"{est.seed}:vaults")
    for i in range(est.n_vaults):
        w.write(_vault_row(est, i, rng))


def write_subscriptions(est: Estate, w: Writer) -> None:
    for s, sub in enumerate(est.sub_ids):
        leaf = est.sub_leaf[s]
        state = "Enabled" if leaf != "decommissioned" else ("Disabled", "Warned")[s % 2]
        w.write('{"id":"/subscriptions/%s","name":"%s","type":"microsoft.resources/subscriptions",'
                '"subscriptionId":"%s","tenantId":"%s","properties":{"state":"%s",'
                '"managementGroupAncestorsChain":%s}}\n' % (
                    sub, f"contoso-{leaf}-{s:05d}", sub, est.tenant, state, est.chain_json[leaf]))


def write_management_groups(est: Estate, w: Writer) -> None:
    for name, (disp, parent) in est.mgs.items():
        details = {"managementGroupAncestorsChain": est.chain(parent) if parent else []}
        if parent:
            details["parent"] = {"id": MGP + parent, "name": parent, "displayName": est.mgs[parent][0]}
        w.write(json.dumps({"id": MGP + name, "name": name, "type": "microsoft.management/managementgroups",
                            "tenantId": est.tenant,
                            "properties": {"displayName": disp, "tenantId": est.tenant, "details": details}},
                           separators=(",", ":")) + "\n")


def write_role_definitions(est: Estate, w: Writer, builtins: list[dict]) -> None:
    for role in builtins + est.custom:
        w.write(json.dumps(role_definition_row(role), separators=(",", ":")) + "\n")


def write_principals(est: Estate, w: Writer) -> None:
    rng = random.Random(f"{est.seed}:principals")
    groups = [k for k in range(est.n_principals) if est.principal_type(k) == "group"]
    for k, pid in enumerate(est.principal_ids):
        t = est.principal_type(k)
        member = sorted({est.principal_ids[groups[rng.randrange(len(groups))]]
                         for _ in range(rng.randrange(0, 6 if t != "group" else 2))} - {pid})
        if t == "user":
            name, utype, app = f"User {k:06d}", ("Guest" if rng.random() < 0.05 else "Member"), None
        elif t == "group":
            name, utype, app = f"grp-{APPS[k % len(APPS)]}-{k:06d}", None, None
        else:
            name, utype, app = f"sp-{APPS[k % len(APPS)]}-{k:06d}", None, stable_guid(est.seed, f"app:{k}")
        w.write(json.dumps({"id": pid, "type": t, "displayName": name, "userType": utype, "appId": app,
                            "memberOf": member}, separators=(",", ":")) + "\n")
