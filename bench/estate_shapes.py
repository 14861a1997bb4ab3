"""The synthetic estate's shapes: stable ids, weighted tables, the snapshot writer, role definitions,
custom roles, access-policy templates and the Estate plan (bench/generate_estate.py)."""

from __future__ import annotations

import gzip
import hashlib
import json
import queue
import random
import threading
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
