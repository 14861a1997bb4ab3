"""The standing role assignments a vault's flip relies on: the one definition the script's ``keep`` list
(pre-flight) and ``kv-audit migrate``'s check share.

An assignment is relied on when it is active (not PIM-eligible), sits at or above the vault, and gives
an access-policy entry's principal (directly or through one of its groups, as the access engine's
``rbac_grants`` resolves) a data action that entry has: removing it between plan and flip is drift.
"""

from __future__ import annotations


def relied_on(vault, access) -> list[tuple[object, object]]:
    """``(entry, grant)`` per relied-on assignment of ``vault`` (first entry that relies on it), in entry order.

    ``access`` is the access engine's view of the vault (``AccessIndex.vault_access(vault)``)."""
    out, seen = [], set()
    for entry in vault.access_policies:
        if not entry.data:
            continue
        for grant in access.rbac_grants(entry.object_key):
            a = grant.assignment
            if a.eligible or not (grant.data & entry.data) or a.key in seen:
                continue
            seen.add(a.key)
            out.append((entry, grant))
    return out
