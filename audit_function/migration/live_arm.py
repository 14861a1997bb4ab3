"""The Azure Resource Manager calls of ``kv-audit migrate``, through the real SDK clients.

- ``azure-mgmt-keyvault`` ``vaults.get`` (``enableRbacAuthorization``, ``accessPolicies``) and
  ``vaults.update`` with ``VaultPatchParameters``: a PATCH that sends only
  ``properties.enableRbacAuthorization``, never a PUT, so the access policies stay as they are
  (https://learn.microsoft.com/rest/api/keyvault/keyvault/vaults/update);
- ``azure-mgmt-authorization`` ``role_assignments.list_for_scope(vault, $filter=atScope())``: the
  assignments at the vault or above it, i.e. the ones that apply there (``principalId eq`` would add
  those below it and cannot be combined with ``atScope()``;
  https://learn.microsoft.com/rest/api/authorization/role-assignments/list-for-scope), and
  ``role_assignments.create`` with a deterministic name (a re-run PUTs the same resource; a 409
  ``RoleAssignmentExists``, the same principal/role/scope under another name, is success).

Every call goes through the collector's retry loop (``arm_authorization.list_scope``): 429 honours
Retry-After in any casing, 5xx/408/dropped connections back off, both bounded; ARM's remaining-quota
headers pace the next call (``ArmPacer``). Retrying the PUT and the PATCH is safe: both are idempotent.
Anything else raises ``ScopeFailed`` with ARM's error code, message and ``details[]``.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass

from azure.core.exceptions import HttpResponseError
from azure.mgmt.authorization import AuthorizationManagementClient
from azure.mgmt.authorization.v2022_04_01.models import RoleAssignmentCreateParameters
from azure.mgmt.keyvault import KeyVaultManagementClient
from azure.mgmt.keyvault.models import VaultPatchParameters, VaultPatchProperties

from audit_function import __version__
from audit_function.collect.arm_authorization import ScopeFailed, _Counters, list_scope
from audit_function.collect.arm_deep import _Get, _Listing
from audit_function.collect.arm_pacing import ArmPacer
from audit_function.migration.drift import LiveVault, PlannedAssignment

_NO_SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
_EXISTS = object()

__all__ = ["LiveArm", "ScopeFailed", "VaultRef"]


@dataclass(frozen=True)
class VaultRef:
    id: str
    subscription: str
    resource_group: str
    name: str

    @classmethod
    def parse(cls, vault_id: str) -> "VaultRef":
        parts = vault_id.strip().rstrip("/").split("/")
        if len(parts) != 9 or parts[1].lower() != "subscriptions" or parts[3].lower() != "resourcegroups" \
                or parts[6].lower() != "microsoft.keyvault" or parts[7].lower() != "vaults":
            raise ScopeFailed(f"{vault_id!r} is not a Key Vault resource id")
        return cls(vault_id, parts[2], parts[4], parts[8])


@dataclass(frozen=True)
class _Unit:
    scope: str


def _error_code(exc: HttpResponseError) -> str:
    try:
        return str((json.loads(exc.response.text()).get("error") or {}).get("code") or "")
    except (ValueError, AttributeError, TypeError):
        return ""


class LiveArm:
    """One authorization client, one Key Vault client per subscription; SDK retries off (ours decide)."""

    def __init__(self, credential, target, verify, *, sleep=time.sleep, clock=time.monotonic,
                 budget_s: float | None = None, progress=None) -> None:
        self._args = dict(base_url=target.endpoint, credential_scopes=[target.token_scope], connection_verify=verify,
                          retry_total=0, user_agent=f"kv-audit/{__version__} migrate")
        self._credential = credential
        self.auth = AuthorizationManagementClient(credential, _NO_SUBSCRIPTION, **self._args)
        self._keyvault: dict[str, KeyVaultManagementClient] = {}
        self._lock = threading.Lock()
        self.pacer = ArmPacer(sleep=sleep, clock=clock, budget_s=budget_s, progress=progress)
        self.counters = _Counters()

    def close(self) -> None:
        for client in [*self._keyvault.values(), self.auth]:
            client.close()

    def _kv(self, subscription: str) -> KeyVaultManagementClient:
        with self._lock:
            client = self._keyvault.get(subscription.lower())
            if client is None:
                client = self._keyvault[subscription.lower()] = KeyVaultManagementClient(
                    self._credential, subscription, **self._args)
            return client

    def _one(self, what: str, scope: str, call):
        (model,) = list_scope(_Get(what, call), _Unit(scope), self.pacer, self.counters)
        return model

    def read_vault(self, vault_id: str) -> tuple[bool | None, list[dict]]:
        """(enableRbacAuthorization, access policies as ARM JSON) of the vault now."""
        ref = VaultRef.parse(vault_id)
        kv = self._kv(ref.subscription)
        model = self._one("vault", vault_id, lambda **kw: kv.vaults.get(ref.resource_group, ref.name, **kw))
        props = (model.as_dict() or {}).get("properties") or {}
        return props.get("enableRbacAuthorization"), list(props.get("accessPolicies") or [])

    def assignments(self, vault_id: str) -> list[dict]:
        """Role assignments at or above the vault (ARM JSON: id, name, properties)."""
        ops = self.auth.role_assignments
        listing = _Listing("role_assignments",
                           lambda **kw: ops.list_for_scope(vault_id.lstrip("/"), filter="atScope()", **kw))
        return [m.serialize(keep_readonly=True) for m in list_scope(listing, _Unit(vault_id), self.pacer,
                                                                    self.counters)]

    def live(self, vault_id: str) -> LiveVault:
        rbac, policies = self.read_vault(vault_id)
        return LiveVault(rbac, policies, self.assignments(vault_id) if rbac is not True else [])

    def create(self, planned: PlannedAssignment, subscription: str) -> str:
        """``created`` or ``exists`` (409 RoleAssignmentExists: the same assignment under another name)."""
        params = RoleAssignmentCreateParameters(
            role_definition_id=planned.role_definition_id(subscription), principal_id=planned.principal_id,
            principal_type=planned.principal_type or None,
            description=f"kv-audit migrate: access-policy entry {planned.entry} of the vault")
        ops = self.auth.role_assignments

        def put(**kw):
            try:
                return ops.create(planned.scope.lstrip("/"), planned.name, params, **kw)
            except HttpResponseError as exc:
                if exc.status_code == 409 and _error_code(exc) == "RoleAssignmentExists":
                    return _EXISTS
                raise

        return "exists" if self._one("assignment", planned.scope, put) is _EXISTS else "created"

    def custom_role_guid(self, scope: str, name: str) -> str | None:
        """The GUID of the custom role called ``name`` at ``scope`` (``role_definitions.list`` with
        ``roleName eq``), or None. ``az role definition create`` picks its own GUID, so a role created from
        the plan's files is found by its name, not by the plan's GUID."""
        ops = self.auth.role_definitions
        quoted = name.replace("'", "''")           # OData string literal
        listing = _Listing("role_definitions",
                           lambda **kw: ops.list(scope.lstrip("/"), filter=f"roleName eq '{quoted}'", **kw))
        found = [m for m in list_scope(listing, _Unit(scope), self.pacer, self.counters)
                 if getattr(m, "role_name", None) == name]
        return str(found[0].name).lower() if found else None

    def set_rbac(self, vault_id: str, enabled: bool) -> bool | None:
        """PATCH enableRbacAuthorization only; the value ARM answered with."""
        ref = VaultRef.parse(vault_id)
        kv = self._kv(ref.subscription)
        patch = VaultPatchParameters(properties=VaultPatchProperties(enable_rbac_authorization=enabled))
        model = self._one("vault", vault_id,
                          lambda **kw: kv.vaults.update(ref.resource_group, ref.name, patch, **kw))
        return getattr(model.properties, "enable_rbac_authorization", None)
