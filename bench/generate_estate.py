#!/usr/bin/env python3
"""Synthetic estate generator: a large, realistic snapshot directory for benchmarks and tests.

    python bench/generate_estate.py --vaults 100000 --subscriptions 10000 \\
        --role-assignments 1000000 --out /tmp/estate [--seed N] [--gzip] [--principals]
    python bench/generate_estate.py --small --out /tmp/small      # tiny preset for tests

Writes the snapshot format of ``docs/contracts/snapshot.md`` (``vaults``, ``subscriptions``,
``management_groups``, ``role_assignments``, ``role_definitions`` and optionally ``principals``
as ``.jsonl`` or ``.jsonl.gz``, plus ``manifest.json``), every row shaped like an Azure Resource
Graph ``objectArray`` row (``type`` lower-cased, ids in ARM casing), the same shapes as the demo
estate (``audit_function/data/demo``).

What it looks like
- a management-group tree six levels deep: tenant root -> contoso -> platform / landing-zones /
  sandbox / decommissioned -> corp / online -> one MG per business unit -> prod / nonprod;
- subscriptions under the leaves (platform subscriptions first), vaults spread over
  subscriptions (skewed: a few shared subscriptions hold many vaults) and their resource groups;
- vault generations: old vaults missing properties, access-policy vaults, RBAC vaults, odd
  casings, network settings from wide open to private-endpoint only, 0..~40 access-policy
  entries (a few with 200..1024), permission sets from Microsoft's migration-guide templates,
  foreign-tenant and compound-identity entries;
- role assignments: mostly on non-vault resources (storage, web apps, VMs, SQL, registries, ...)
  and resource groups, then subscriptions, management groups, a handful at ``/``, vault-scoped and
  object-scoped (``.../vaults/v/secrets/s``), with the roles usually seen at each scope;
- role definitions: the built-in catalog (``audit_function/data/builtin_roles.json``, converted to
  ARG rows) plus a few hundred custom roles, a few of them with Key Vault wildcards;
- principals (``--principals``): users, groups and service principals with transitive groups.

Everything derives from ``--seed`` (same seed, same bytes). Rows are written as they are made:
memory stays flat (the only per-estate state is the subscription and principal id lists).
Ids that several tables share (vault ids, principals) are pure functions of an index, so no table
is kept to build another. Rows are formatted with plain string templates (all values come from
fixed vocabularies; nothing needs JSON escaping); ``--gzip`` compresses on a writer thread
(zlib releases the GIL), so formatting and compression can overlap when two cores are free.

Measured in this project's container (2 vCPUs, shared with other work, so effectively about one
core: two busy threads or processes ran no faster than one), Python 3.11, ``/usr/bin/time``
wall clock, defaults (300 custom roles, no principals):

    --vaults 100000 --subscriptions 10000 --role-assignments 1000000
        plain:  10.7-11.3 s wall (20.7 s at load average 5), 57-65 MB max RSS; 1.26 GB in all:
                role_assignments.jsonl 1,035 MB (~1 KB a row, like real ARG rows),
                vaults.jsonl 218 MB, subscriptions 6.4 MB, role_definitions 1.3 MB
                (928 built-in + 300 custom), management_groups 0.4 MB (611 MGs)
        --gzip: 17-32 s wall depending on load, ~100 MB max RSS; 220 MB in all:
                role_assignments.jsonl.gz 191 MB, vaults.jsonl.gz 29 MB
        --principals adds 50,000 principals (4.9 MB gzipped) in about 1 s
    --small (300 vaults, 25 subscriptions, 3,000 assignments, 20 custom roles): 0.3 s, 4.8 MB
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import queue
import random
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BUILTIN_ROLES = REPO / "audit_function" / "data" / "builtin_roles.json"

FORMAT = "kv-audit-snapshot/1"
COLLECTED_AT = "2025-06-02T06:00:00Z"
AUTHZ = "/providers/Microsoft.Authorization"
MGP = "/providers/Microsoft.Management/managementGroups/"

SMALL = {"vaults": 300, "subscriptions": 25, "role_assignments": 3000, "custom_roles": 20}

APPS = ("payments", "crm", "hr", "erp", "billing", "search", "identity", "web", "api", "data",
        "ml", "iot", "mobile", "portal", "orders", "catalog", "shipping", "fraud", "reporting",
        "etl", "gateway", "auth", "docs", "chat", "media", "backup", "monitor", "devops", "sap",
        "claims")
ENVS = ("prod", "dev", "test", "uat", "stg", "prod", "prod", "dev")
LOCATIONS = ("westeurope", "northeurope", "eastus", "eastus2", "westus2", "uksouth",
             "germanywestcentral", "swedencentral", "centralus", "southeastasia")

# --------------------------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------------------------


def _hex_guid(h: str) -> str:
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def stable_guid(seed: int, label: str) -> str:
    """A GUID that is a pure function of (seed, label)."""
    return _hex_guid(hashlib.md5(f"{seed}:{label}".encode()).hexdigest())


def rand_guid(rng: random.Random) -> str:
    return _hex_guid("%032x" % rng.getrandbits(128))


def _mix(x: int) -> int:
    """splitmix64 finaliser: a cheap, well-spread 64-bit hash of an integer."""
    x = (x + 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    return x ^ (x >> 31)


def lookup_table(weights: dict, size: int = 1000) -> list:
    """A list where each key appears in proportion to its weight: ``table[int(r * size)]``."""
    total = sum(weights.values())
    table: list = []
    for key, w in weights.items():
        table.extend([key] * round(size * w / total))
    while len(table) < size:
        table.append(next(iter(weights)))
    return table[:size]


class Writer:
    """Line-oriented table writer; with gzip, compression runs on a thread (zlib drops the GIL)."""

    CHUNK = 4000  # rows per write

    def __init__(self, path: Path, compress: bool):
        self.path = path
        self.rows = 0
        self._buf: list[str] = []
        if compress:
            self._raw = open(path, "wb")
            self._gz = gzip.GzipFile(filename="", mode="wb", fileobj=self._raw, compresslevel=3, mtime=0)
            self._q: queue.Queue | None = queue.Queue(maxsize=8)
            self._thread = threading.Thread(target=self._drain, daemon=True)
            self._thread.start()
        else:
            self._raw = open(path, "w", encoding="utf-8", newline="\n")
            self._q = None

    def _drain(self) -> None:
        while True:
            data = self._q.get()
            if data is None:
                return
            self._gz.write(data)

    def write(self, line: str) -> None:
        self._buf.append(line)
        self.rows += 1
        if len(self._buf) >= self.CHUNK:
            self._flush()

    def _flush(self) -> None:
        if not self._buf:
            return
        text = "".join(self._buf)
        self._buf = []
        if self._q is not None:
            self._q.put(text.encode("utf-8"))
        else:
            self._raw.write(text)

    def close(self) -> None:
        self._flush()
        if self._q is not None:
            self._q.put(None)
            self._thread.join()
            self._gz.close()
        self._raw.close()


# --------------------------------------------------------------------------------------------
# role definitions
# --------------------------------------------------------------------------------------------


def load_builtin_roles() -> list[dict]:
    with open(BUILTIN_ROLES, encoding="utf-8") as f:
        return json.load(f)["roles"]


def role_definition_row(role: dict) -> dict:
    """``az role definition list`` object -> ARG ``authorizationresources`` row (as in the demo)."""
    perms = []
    for p in role["permissions"]:
        block = {"actions": list(p.get("actions") or []), "notActions": list(p.get("notActions") or []),
                 "dataActions": list(p.get("dataActions") or []),
                 "notDataActions": list(p.get("notDataActions") or [])}
        if p.get("condition"):
            block["condition"] = p["condition"]
            block["conditionVersion"] = p.get("conditionVersion")
        perms.append(block)
    return {"id": role["id"], "name": role["name"], "type": "microsoft.authorization/roledefinitions",
            "properties": {"roleName": role["roleName"], "type": role.get("roleType") or role.get("type"),
                           "description": role.get("description") or "", "permissions": perms,
                           "assignableScopes": list(role.get("assignableScopes") or ["/"])}}


CUSTOM_ACTION_POOL = (
    "Microsoft.Compute/virtualMachines/read", "Microsoft.Compute/virtualMachines/start/action",
    "Microsoft.Compute/virtualMachines/restart/action", "Microsoft.Compute/virtualMachines/deallocate/action",
    "Microsoft.Storage/storageAccounts/read", "Microsoft.Storage/storageAccounts/listKeys/action",
    "Microsoft.Web/sites/read", "Microsoft.Web/sites/restart/action", "Microsoft.Web/sites/config/list/action",
    "Microsoft.Network/networkInterfaces/read", "Microsoft.Network/virtualNetworks/subnets/join/action",
    "Microsoft.Sql/servers/databases/read", "Microsoft.Insights/metrics/read", "Microsoft.Insights/alertRules/*",
    "Microsoft.Resources/subscriptions/resourceGroups/read", "Microsoft.Resources/deployments/*",
    "Microsoft.Support/*", "Microsoft.KeyVault/vaults/read", "Microsoft.KeyVault/vaults/deploy/action",
    "Microsoft.ContainerService/managedClusters/read", "Microsoft.OperationalInsights/workspaces/query/read",
)
CUSTOM_DATA_POOL = (
    "Microsoft.KeyVault/vaults/secrets/getSecret/action", "Microsoft.KeyVault/vaults/secrets/readMetadata/action",
    "Microsoft.KeyVault/vaults/keys/read", "Microsoft.KeyVault/vaults/keys/wrap/action",
    "Microsoft.KeyVault/vaults/keys/unwrap/action", "Microsoft.KeyVault/vaults/certificates/read",
    "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read",
    "Microsoft.Storage/storageAccounts/queueServices/queues/messages/read",
)
CUSTOM_WILDCARDS = (
    {"actions": ["Microsoft.KeyVault/*"], "dataActions": []},
    {"actions": ["Microsoft.KeyVault/vaults/*"], "dataActions": ["Microsoft.KeyVault/vaults/*"]},
    {"actions": ["Microsoft.KeyVault/vaults/read"], "dataActions": ["Microsoft.KeyVault/vaults/secrets/*"]},
    {"actions": ["*/read"], "dataActions": ["*"]},
)


def custom_roles(n: int, seed: int, org_mg: str, sub_ids: list[str]) -> list[dict]:
    rng = random.Random(f"{seed}:custom-roles")
    out = []
    for k in range(n):
        guid = stable_guid(seed, f"custom-role:{k}")
        # assignable everywhere under the org MG (the generator assigns them anywhere); ARG spells
        # some definition ids with the subscription they were created from
        scope = MGP + org_mg
        if rng.random() < 0.7:
            rid = f"{AUTHZ}/roleDefinitions/{guid}"
        else:
            rid = f"/subscriptions/{sub_ids[rng.randrange(len(sub_ids))]}{AUTHZ}/roleDefinitions/{guid}"
        if k % 25 == 3:  # ~4 % carry Key Vault wildcards
            w = CUSTOM_WILDCARDS[(k // 25) % len(CUSTOM_WILDCARDS)]
            actions, data = list(w["actions"]), list(w["dataActions"])
            name = f"Contoso {APPS[k % len(APPS)].title()} Vault Operator {k}"
        else:
            actions = sorted(rng.sample(CUSTOM_ACTION_POOL, rng.randint(1, 6)))
            data = sorted(rng.sample(CUSTOM_DATA_POOL, rng.randint(0, 2))) if rng.random() < 0.3 else []
            name = f"Contoso {APPS[k % len(APPS)].title()} {('Operator', 'Reader', 'Deployer', 'Support')[k % 4]} {k}"
        out.append({"id": rid, "name": guid, "roleName": name, "roleType": "CustomRole",
                    "description": f"Custom role {k} for the {APPS[k % len(APPS)]} teams",
                    "permissions": [{"actions": actions, "notActions": [], "dataActions": data,
                                     "notDataActions": []}],
                    "assignableScopes": [scope]})
    return out


# --------------------------------------------------------------------------------------------
# access policy permission templates (Microsoft migration guide + what real estates hold)
# --------------------------------------------------------------------------------------------

ALL_KEYS = ["Get", "List", "Update", "Create", "Import", "Delete", "Recover", "Backup", "Restore",
            "Decrypt", "Encrypt", "UnwrapKey", "WrapKey", "Verify", "Sign", "Purge", "Release", "Rotate",
            "GetRotationPolicy", "SetRotationPolicy"]
ALL_SECRETS = ["get", "list", "set", "delete", "recover", "backup", "restore", "purge"]
ALL_CERTS = ["get", "list", "update", "create", "import", "delete", "recover", "backup", "restore",
             "managecontacts", "manageissuers", "getissuers", "listissuers", "setissuers", "deleteissuers",
             "purge"]
PERMISSION_TEMPLATES = {  # permissions object -> weight
    "secrets-read": ({"keys": [], "secrets": ["get", "list"], "certificates": []}, 30),
    "secrets-read-tf": ({"keys": [], "secrets": ["Get", "List"], "certificates": []}, 10),
    "secret-get": ({"keys": [], "secrets": ["get"], "certificates": []}, 6),
    "secret-management": ({"keys": [], "secrets": ["all"], "certificates": []}, 6),
    "key-management": ({"keys": ["all"], "secrets": [], "certificates": []}, 3),
    "certificate-management": ({"keys": [], "secrets": [], "certificates": ["all"]}, 3),
    "full-all": ({"keys": ["all"], "secrets": ["all"], "certificates": ["all"]}, 3),
    "full-explicit": ({"keys": ALL_KEYS, "secrets": ALL_SECRETS, "certificates": ALL_CERTS}, 5),
    "sql-connector": ({"keys": ["get", "list", "wrapKey", "unwrapKey"], "secrets": [], "certificates": []}, 8),
    "storage-cmk": ({"keys": ["get", "unwrapKey", "wrapKey"], "secrets": [], "certificates": []}, 6),
    "azure-backup": ({"keys": ["get", "list", "backup"], "secrets": ["get", "list", "backup"], "certificates": []}, 3),
    "aip-byok": ({"keys": ["get", "decrypt", "sign"], "secrets": [], "certificates": []}, 1),
    "app-service-cert": ({"keys": [], "secrets": ["get"], "certificates": ["get"]}, 5),
    "secrets-rw": ({"keys": [], "secrets": ["get", "list", "set", "delete"], "certificates": []}, 8),
    "with-storage": ({"keys": [], "secrets": ["get", "list"], "certificates": [], "storage": ["get", "list", "getsas"]}, 1),
    "empty": ({"keys": [], "secrets": [], "certificates": []}, 1),
}
_PERM_JSON = {k: json.dumps(v[0], separators=(",", ":")) for k, v in PERMISSION_TEMPLATES.items()}
PERM_TABLE = [_PERM_JSON[k] for k in lookup_table({k: v[1] for k, v in PERMISSION_TEMPLATES.items()})]

IP_POOL = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "1.2.3.4", "203.0.113.0/24", "198.51.100.17/32",
           "20.50.0.0/16", "52.100.0.0/14", "40.112.0.0/13", "62.154.12.0/22")

# --------------------------------------------------------------------------------------------
# the estate
# --------------------------------------------------------------------------------------------


class Estate:
    """Placement of everything: pure functions of indexes, so tables can be streamed."""

    def __init__(self, seed: int, n_vaults: int, n_subs: int, n_assignments: int, n_custom: int):
        self.seed = seed
        self.n_vaults, self.n_subs, self.n_assignments = n_vaults, n_subs, n_assignments
        self.tenant = stable_guid(seed, "tenant")
        self.foreign_tenants = [stable_guid(seed, f"foreign-tenant:{k}") for k in range(3)]
        self.org = "contoso"
        self._build_mgs()
        self.sub_ids = [stable_guid(seed, f"sub:{s}") for s in range(n_subs)]
        self.sub_leaf = [self._leaf_for(s) for s in range(n_subs)]
        self.n_principals = max(500, min(200_000, n_assignments // 20))
        self.principal_ids = [stable_guid(seed, f"principal:{k}") for k in range(self.n_principals)]
        self.custom = custom_roles(n_custom, seed, self.org, self.sub_ids)

    # -- management groups: root -> contoso -> platform|landing-zones|sandbox|decommissioned
    #    -> (platform-*) | corp|online -> bu-k -> bu-k-prod|bu-k-nonprod
    def _build_mgs(self) -> None:
        root = self.tenant
        mgs: dict[str, tuple[str, str | None]] = {root: ("Tenant Root Group", None),
                                                  "contoso": ("Contoso", root)}
        for name, disp in (("platform", "Platform"), ("landing-zones", "Landing Zones"),
                           ("sandbox", "Sandbox"), ("decommissioned", "Decommissioned")):
            mgs[name] = (disp, "contoso")
        for name, disp in (("platform-identity", "Identity"), ("platform-management", "Management"),
                           ("platform-connectivity", "Connectivity")):
            mgs[name] = (disp, "platform")
        mgs["corp"], mgs["online"] = ("Corp", "landing-zones"), ("Online", "landing-zones")
        n_bu = max(2, min(200, self.n_subs // 50))
        self.bu_leaves = []
        for k in range(n_bu):
            bu = f"bu-{APPS[k % len(APPS)]}-{k:03d}"
            mgs[bu] = (f"{APPS[k % len(APPS)].title()} {k}", "corp" if k % 3 else "online")
            for env in ("prod", "nonprod"):
                mgs[f"{bu}-{env}"] = (f"{APPS[k % len(APPS)].title()} {k} {env}", bu)
                self.bu_leaves.append(f"{bu}-{env}")
        self.mgs = mgs
        self.chain_json = {name: json.dumps(self.chain(name), separators=(",", ":")) for name in mgs}
        self.mg_names = [n for n in mgs if n != root]

    def chain(self, name: str | None) -> list[dict]:
        out = []
        while name is not None:
            disp, parent = self.mgs[name]
            out.append({"name": name, "displayName": disp})
            name = parent
        return out

    def _leaf_for(self, s: int) -> str:
        if s < 3:
            return ("platform-identity", "platform-management", "platform-connectivity")[s]
        h = _mix(self.seed * 1_000_003 + s) % 100
        if h < 5:
            return "sandbox"
        if h < 6:
            return "decommissioned"
        return self.bu_leaves[s % len(self.bu_leaves)]

    # -- subscriptions and resource groups (pure functions of the index)
    def skewed_sub(self, u: float) -> int:
        return min(self.n_subs - 1, int(self.n_subs * u * u))

    def rg_count(self, s: int) -> int:
        return 2 + _mix(self.seed + 7 * s) % 10

    def rg_name(self, s: int, r: int) -> str:
        return f"rg-{APPS[(s * 31 + r * 7) % len(APPS)]}-{ENVS[(s + r) % len(ENVS)]}-{r:02d}"

    # -- vaults: vault i lives in a subscription/RG that depends only on i
    def vault_place(self, i: int) -> tuple[int, int, str]:
        h = _mix(self.seed * 7_919 + i)
        s = self.skewed_sub((h & 0xFFFFFFFF) / 4294967296.0)
        r = (h >> 32) % self.rg_count(s)
        app = APPS[(h >> 40) % len(APPS)]
        return s, r, f"kv-{app}-{i:06x}"

    def vault_id(self, i: int) -> str:
        s, r, name = self.vault_place(i)
        return f"/subscriptions/{self.sub_ids[s]}/resourceGroups/{self.rg_name(s, r)}/providers/Microsoft.KeyVault/vaults/{name}"

    # -- principals: index -> type (0-5 service principal, 6-8 user, 9 group)
    @staticmethod
    def principal_type(k: int) -> str:
        d = k % 10
        return "servicePrincipal" if d < 6 else "user" if d < 9 else "group"


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


def generate(out: Path, *, vaults: int, subscriptions: int, role_assignments: int, seed: int = 1,
             compress: bool = False, principals: bool = False, custom_roles_count: int = 300,
             log=None) -> dict:
    """Write the snapshot into ``out``; returns the manifest."""
    if subscriptions < 1:
        raise ValueError("--subscriptions must be at least 1")
    if min(vaults, role_assignments, custom_roles_count) < 0:
        raise ValueError("counts must not be negative")
    out.mkdir(parents=True, exist_ok=True)
    builtins = load_builtin_roles()
    role_guids = {r["roleName"]: r["name"] for r in builtins}
    est = Estate(seed, vaults, subscriptions, role_assignments, custom_roles_count)
    ext = ".jsonl.gz" if compress else ".jsonl"
    steps = [("management_groups", lambda w: write_management_groups(est, w)),
             ("subscriptions", lambda w: write_subscriptions(est, w)),
             ("role_definitions", lambda w: write_role_definitions(est, w, builtins)),
             ("vaults", lambda w: write_vaults(est, w)),
             ("role_assignments", lambda w: write_role_assignments(est, w, role_guids))]
    if principals:
        steps.append(("principals", lambda w: write_principals(est, w)))
    for table in ("principals", "vaults", "subscriptions", "management_groups", "role_assignments",
                  "role_definitions"):  # a stale file of the other flavour would be read too
        for stale in (out / f"{table}.jsonl", out / f"{table}.jsonl.gz"):
            if stale.exists():
                stale.unlink()
    counts = {}
    for table, fn in steps:
        t0 = time.perf_counter()
        w = Writer(out / f"{table}{ext}", compress)
        try:
            fn(w)
        finally:
            w.close()
        counts[table] = w.rows
        if log:
            log(f"{table}: {w.rows:,} rows, {os.path.getsize(w.path) / 1e6:,.1f} MB, "
                f"{time.perf_counter() - t0:.1f} s")
    manifest = {"format": FORMAT, "collectedAt": COLLECTED_AT, "source": "synthetic",
                "scope": {"tenantId": est.tenant, "managementGroups": [est.tenant], "subscriptions": [],
                          "generator": {"seed": seed, "vaults": vaults, "subscriptions": subscriptions,
                                        "roleAssignments": role_assignments,
                                        "customRoles": custom_roles_count}},
                "tables": counts, "complete": True, "gaps": []}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, type=Path, help="snapshot directory to write")
    ap.add_argument("--vaults", type=int)
    ap.add_argument("--subscriptions", type=int)
    ap.add_argument("--role-assignments", type=int)
    ap.add_argument("--custom-roles", type=int)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--gzip", action="store_true", help="write .jsonl.gz")
    ap.add_argument("--principals", action="store_true", help="also write principals.jsonl")
    ap.add_argument("--small", action="store_true",
                    help="tiny preset for tests (%(vaults)d vaults, %(subscriptions)d subscriptions, "
                         "%(role_assignments)d assignments); explicit counts still win" % SMALL)
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)
    base = SMALL if args.small else {"vaults": 100_000, "subscriptions": 10_000, "role_assignments": 1_000_000,
                                     "custom_roles": 300}
    pick = lambda name: getattr(args, name) if getattr(args, name) is not None else base[name]  # noqa: E731
    t0 = time.perf_counter()
    log = None if args.quiet else (lambda msg: print(msg, file=sys.stderr))
    try:
        generate(args.out, vaults=pick("vaults"), subscriptions=pick("subscriptions"),
                 role_assignments=pick("role_assignments"), seed=args.seed, compress=args.gzip,
                 principals=args.principals, custom_roles_count=pick("custom_roles"), log=log)
    except ValueError as exc:
        ap.error(str(exc))
    if log:
        log(f"done in {time.perf_counter() - t0:.1f} s -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
