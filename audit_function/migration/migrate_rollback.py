"""``kv-audit migrate --rollback --vault X``: flip a migrated vault back to its access policies.

Reads the vault's rollback file (written by a verified ``--apply`` under ``--out/rollback/``), PATCHes
``enableRbacAuthorization`` to false (nothing else: the access policies were never changed by the flip),
re-reads the vault to check the access-policy model is in force again, and logs a ``rollback`` line (which
makes the vault pending again for a later ``--apply``).
"""

from __future__ import annotations

import json
from pathlib import Path

from audit_function.collect.arm_authorization import ScopeFailed
from audit_function.collect.pacing import BudgetExhausted
from audit_function.errors import ConfigError, InputError
from audit_function.migration.apply import POLICIES_NOTE, ROLLBACK_DIR
from audit_function.quoting import terminal


def rollback_files(out: Path) -> list[tuple[Path, dict]]:
    folder = Path(out) / ROLLBACK_DIR
    found = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise InputError(str(path), f"not a kv-audit rollback file: {exc}") from None
        if not isinstance(doc, dict) or not isinstance(doc.get("vaultId"), str):
            raise InputError(str(path), "not a kv-audit rollback file (no vaultId)")
        found.append((path, doc))
    return found


def select(files: list[tuple[Path, dict]], selectors: list[str], out: Path) -> list[dict]:
    if not selectors:
        raise ConfigError("--rollback needs --vault (name or resource id; repeatable)")
    chosen = []
    for selector in selectors:
        text = selector.strip().lower().rstrip("/")
        hits = [doc for _, doc in files if doc["vaultId"].lower().rstrip("/") == text
                or str(doc.get("vaultName") or "").lower() == text]
        if not hits:
            raise ConfigError(f"--vault {selector}: no rollback file for it under {Path(out) / ROLLBACK_DIR} "
                              "(only a verified --apply writes one)")
        if len(hits) > 1:
            raise ConfigError(f"--vault {selector}: {len(hits)} rollback files match; give the resource id")
        if hits[0] not in chosen:
            chosen.append(hits[0])
    return chosen


def run_rollback(args, log, connect) -> int:
    """``connect()`` makes the LiveArm once the vaults are known (a usage error needs no credential)."""
    docs = select(rollback_files(args.out), args.vault, args.out)
    arm = connect()
    failed = []
    try:
        for doc in docs:
            vid, name = doc["vaultId"], doc.get("vaultName") or doc["vaultId"]
            try:
                arm.set_rbac(vid, False)
                rbac, policies = arm.read_vault(vid)
            except (ScopeFailed, BudgetExhausted) as exc:
                reason = str(exc) if isinstance(exc, ScopeFailed) else "time budget exhausted"
                log.append(vid, "rollback", "failed", reason)
                print(terminal(f"  {name}: rollback failed - {reason}"))
                failed.append(name)
                continue
            if rbac is True:
                log.append(vid, "rollback", "failed", "enableRbacAuthorization is still true")
                print(terminal(f"  {name}: rollback failed - enableRbacAuthorization is still true"))
                failed.append(name)
                continue
            log.append(vid, "rollback", "ok", f"access policies in force again ({len(policies)} entries)")
            print(terminal(f"  {name}: rolled back - access policies in force again ({len(policies)} entries); "
                           f"{POLICIES_NOTE}"))
    finally:
        arm.close()
    if failed:
        print(terminal("kv-audit migrate --rollback: failed: " + ", ".join(failed)))
        return 3
    return 0
