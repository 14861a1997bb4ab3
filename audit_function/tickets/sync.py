"""Reconcile a tracker with a report: create, update, reopen, comment, close. Idempotent.

The tracker is read first (every ticket kv-audit made, open or closed, with its key); then each
key gets exactly one decision:

- an open, unsuppressed finding (or vault) with no ticket -> create;
- ... with an open ticket whose recorded digest differs -> update (same digest -> unchanged);
- a ticket closed earlier whose finding is open again (suppression expired, regression) ->
  reopened with a comment, never a second ticket;
- an open ticket whose findings are all suppressed now -> a comment (who accepted it, why,
  until when), and closed as accepted ("not planned"); it reopens when the suppression ends;
- an open ticket whose finding was resolved -> a comment, and closed with ``close_resolved``;
  a finding simply absent from a *complete* run counts as resolved; an absent finding in an
  incomplete run (unverified) is left alone.

With ``dry_run`` the same decisions are returned and nothing is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from audit_function.tickets import render
from audit_function.tickets.model import Ticket, TicketPlan

MARK_SUPPRESSED = "suppressed"
MARK_RESOLVED = "resolved"


@dataclass(frozen=True)
class Existing:
    """A ticket kv-audit made earlier, as read back from the tracker."""

    id: int
    key: str
    is_open: bool
    digest: str | None = None
    marks: frozenset = frozenset()      # MARK_SUPPRESSED / MARK_RESOLVED
    labels: tuple[str, ...] = ()        # GitHub labels / Azure DevOps tags, as found
    url: str | None = None


@dataclass(frozen=True)
class TicketAction:
    kind: str            # create | update | reopen | unchanged | comment-suppressed |
                         # comment-resolved | close | leave | duplicate
    key: str
    title: str
    ticket: int | None = None   # issue number / work item id (None for a create in a dry run)
    detail: str = ""

    def to_dict(self) -> dict:
        return {"action": self.kind, "key": self.key, "title": self.title,
                "ticket": self.ticket, "detail": self.detail}


class Tracker(Protocol):
    name: str

    def list_tickets(self) -> list[Existing]: ...

    def create(self, ticket: Ticket) -> Existing: ...

    def refresh(self, existing: Existing, ticket: Ticket, *, reopen: bool,
                comment: str | None) -> None: ...

    def annotate(self, existing: Existing, comment: str, *, mark: str, close: bool) -> None: ...


def sync(plan: TicketPlan, tracker: Tracker, *, close_resolved: bool = False,
         dry_run: bool = False) -> list[TicketAction]:
    by_key: dict[str, list[Existing]] = {}
    for item in tracker.list_tickets():
        by_key.setdefault(item.key, []).append(item)
    for items in by_key.values():
        items.sort(key=lambda e: (not e.is_open, e.id))   # open first, oldest first

    actions: list[TicketAction] = []
    wanted = {ticket.key for ticket in plan.open}
    for ticket in plan.open:
        actions += _open_ticket(ticket, by_key.get(ticket.key, []), tracker, dry_run)
    for key, items in sorted(by_key.items()):
        if key in wanted:
            continue
        for existing in items:
            if existing.is_open:
                actions.append(_other_ticket(plan, key, existing, tracker, close_resolved, dry_run))
    return actions


def _open_ticket(ticket: Ticket, items: list[Existing], tracker: Tracker,
                 dry_run: bool) -> list[TicketAction]:
    title = render.title(ticket)
    if not items:
        created = None if dry_run else tracker.create(ticket)
        return [TicketAction("create", ticket.key, title, created.id if created else None)]
    current = items[0]
    actions = [TicketAction("duplicate", ticket.key, title, extra.id,
                            f"another open ticket with the same key; kept #{current.id}")
               for extra in items[1:] if extra.is_open]
    if MARK_SUPPRESSED in current.marks:
        comment = render.UNSUPPRESSED_COMMENT
    elif MARK_RESOLVED in current.marks:
        comment = render.REOPENED_COMMENT
    elif not current.is_open:
        comment = render.STILL_PRESENT_COMMENT
    elif current.digest != render.digest(ticket):
        comment = None
    else:
        return [TicketAction("unchanged", ticket.key, title, current.id)] + actions
    kind = "update" if current.is_open else "reopen"
    if not dry_run:
        tracker.refresh(current, ticket, reopen=not current.is_open, comment=comment)
    return [TicketAction(kind, ticket.key, title, current.id, comment or "")] + actions


def _other_ticket(plan: TicketPlan, key: str, existing: Existing, tracker: Tracker,
                  close_resolved: bool, dry_run: bool) -> TicketAction:
    if key in plan.suppressed:
        if MARK_SUPPRESSED in existing.marks:
            return TicketAction("leave", key, "", existing.id, "suppressed; already commented")
        comment = render.suppressed_comment(plan.suppressed[key])
        if not dry_run:
            tracker.annotate(existing, comment, mark=MARK_SUPPRESSED, close=True)
        return TicketAction("comment-suppressed", key, "", existing.id, comment)
    if key in plan.unverified:
        return TicketAction("leave", key, "", existing.id,
                            "unverified: this run could not read the finding's scope")
    if key in plan.ignored:
        return TicketAction("leave", key, "", existing.id, "below the minimum severity")
    if key in plan.resolved or (plan.complete and plan.owns(key)):
        comment = render.resolved_comment(plan, plan.resolved.get(key))
        if close_resolved:
            if not dry_run:
                tracker.annotate(existing, comment, mark=MARK_RESOLVED, close=True)
            return TicketAction("close", key, "", existing.id, comment)
        if MARK_RESOLVED in existing.marks:
            return TicketAction("leave", key, "", existing.id, "resolved; already commented")
        if not dry_run:
            tracker.annotate(existing, comment, mark=MARK_RESOLVED, close=False)
        return TicketAction("comment-resolved", key, "", existing.id, comment)
    return TicketAction("leave", key, "", existing.id,
                        "not in this report (incomplete run or another grouping)")
