"""Tickets from findings: Azure DevOps Boards, GitHub Issues, or JSONL/CSV import files.

See docs/tickets.md. The entry point is ``run_ticket_step(report, settings) -> TicketSummary``.
"""

from audit_function.tickets.http import TicketAuthError, TicketSinkError
from audit_function.tickets.model import Ticket, TicketPlan, plan_tickets
from audit_function.tickets.step import TicketSummary, run_ticket_step
from audit_function.tickets.sync import TicketAction

__all__ = ["Ticket", "TicketAction", "TicketAuthError", "TicketPlan", "TicketSinkError",
           "TicketSummary", "plan_tickets", "run_ticket_step"]
