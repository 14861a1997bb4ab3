"""What the access engine hands out about one grant: the grant with its compiled role (and how it
reads as evidence), and a principal whose data access a switch to RBAC would widen."""

from __future__ import annotations

from dataclasses import dataclass

from audit_function.estate.model import RoleAssignment, RoleDefinition


class Grant:
    """One grant (role assignment or eligible assignment) with its compiled role; shared by every vault it reaches."""

    __slots__ = ("assignment", "role", "level", "principal", "data", "control", "eligible", "name", "_evidence")

    def __init__(self, assignment: RoleAssignment, role: RoleDefinition, level: str, name: str | None = None) -> None:
        self.assignment = assignment
        self.role = role
        self.level = level            # root | managementGroup | subscription | resourceGroup | vault | object
        self.principal = assignment.principal_key
        self.data = role.data
        self.control = role.control if level != "object" else 0   # object-scoped control grants do not count
        self.eligible = assignment.eligible
        self.name = name              # the principal's display name, when the directory (or Lighthouse) names it
        self._evidence: dict | None = None

    def evidence(self) -> dict:
        """The grant as evidence (one shared dict per grant: treat it as read-only)."""
        if self._evidence is None:
            out = {
                "assignmentId": self.assignment.id,
                "principalId": self.assignment.principal_id,
                "principalName": self.name,
                "roleDefinitionId": self.assignment.role_definition_id,
                "roleName": self.role.name,
                "scope": self.assignment.scope,
                "scopeLevel": self.level,
            }
            if self.assignment.conditional:
                out["conditional"] = True
            if self.eligible:
                out["eligible"] = True
            if self.assignment.managed_by_tenant:
                out["managedByTenant"] = self.assignment.managed_by_tenant   # an Azure Lighthouse authorization
            self._evidence = out
        return self._evidence

    def ref(self, holder: str) -> dict:
        """The grant in the evidence item of principal ``holder`` (report 2: evidence stays compact):
        no principal fields when it is the holder's own grant (a group's grant keeps them), and no
        scope when the assignment id spells it (ARM ids begin with their scope)."""
        evidence = self.evidence()
        if self.principal == holder.lower():
            out = {k: v for k, v in evidence.items() if k not in _NAMED_BY_PARENT}
        else:
            out = {k: v for k, v in evidence.items() if k != "scope"}
        scope = self.assignment.scope or ""
        if scope and not (self.assignment.id or "").lower().startswith(scope.rstrip("/").lower() + "/"):
            out["scope"] = scope
        return out


#: grant evidence fields a per-principal evidence item already carries
_NAMED_BY_PARENT = frozenset({"principalId", "principalName", "scope"})


@dataclass(frozen=True, slots=True)
class Gainer:
    """A principal whose data access would widen on a switch to RBAC."""

    key: str                     # lower-cased object id
    assignment: RoleAssignment   # one of its own grants (for its id and type as Azure spells them)
    widened: int                 # data actions it would gain
    policy: int                  # data actions its access policies give it today
    grants: list                 # the grants that cause the widening
