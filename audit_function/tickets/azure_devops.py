"""Azure DevOps Boards sink (REST API 7.1).

Calls (``{org}`` is the organization URL, e.g. ``https://dev.azure.com/contoso``):

- ``POST  {org}/{project}/_apis/wit/wiql?api-version=7.1`` ``{"query": "SELECT [System.Id] FROM
  WorkItems WHERE [System.TeamProject] = @project AND [System.Tags] CONTAINS 'kv-audit'"}``
  -> ``{"workItems": [{"id": 1, "url": ...}]}``
- ``GET   {org}/{project}/_apis/wit/workitems?ids=1,2&fields=...&api-version=7.1`` (200 ids a
  call) -> ``{"count": n, "value": [{"id": 1, "fields": {...}}]}``
- ``POST  {org}/{project}/_apis/wit/workitems/${type}?api-version=7.1`` and
  ``PATCH {org}/{project}/_apis/wit/workitems/{id}?api-version=7.1`` with a JSON Patch body
  (``application/json-patch+json``): ``[{"op": "add", "path": "/fields/System.Title", ...}]``.
  Comments go in ``System.History`` in the same patch.

Auth: a personal access token from ``AZURE_DEVOPS_EXT_PAT`` or ``KV_AUDIT_ADO_TOKEN``, sent as
HTTP Basic with an empty user name. The key is the tag ``kv-audit-fp-<key>``; the digest is in
the description (``kv-audit-digest: D``); tags ``kv-audit-suppressed`` / ``kv-audit-resolved``
mark items already commented on; ``owner:<owner>`` names the owner its findings share.
"""

from __future__ import annotations

import base64
import html
from urllib.parse import quote

from audit_function.errors import ConfigError
from audit_function.tickets import render
from audit_function.tickets.http import RestClient, TicketSinkError
from audit_function.tickets.model import Ticket
from audit_function.tickets.sync import Existing

API = "api-version=7.1"
TOKEN_ENVS = ("AZURE_DEVOPS_EXT_PAT", "KV_AUDIT_ADO_TOKEN")
TAG = "kv-audit"
KEY_TAG = "kv-audit-fp-"
MARK_TAG = "kv-audit-"
PRIORITY = {"high": 1, "medium": 2, "low": 3}
FIELDS = "System.Id,System.State,System.Tags,System.Description"


class AzureDevOpsTracker:
    name = "azure-devops"

    def __init__(self, settings: dict, env: dict, **client_options) -> None:
        org = str(settings.get("organizationUrl") or "").rstrip("/")
        project = str(settings.get("project") or "").strip()
        if not org.startswith(("https://", "http://")) or not project:
            raise ConfigError("azure-devops: set the organization URL (https://dev.azure.com/ORG) "
                              "and the project (--organization/--project or "
                              "tickets.azureDevOps.organizationUrl/project)")
        token = next((env[name] for name in TOKEN_ENVS if env.get(name)), None)
        if not token:
            raise ConfigError(f"azure-devops: no token: set {TOKEN_ENVS[0]} or {TOKEN_ENVS[1]} to "
                              "a personal access token with Work Items (Read & write) scope")
        self.base = f"{org}/{quote(project, safe='')}/_apis/wit"
        self.work_item_type = settings.get("workItemType") or "Issue"
        self.closed_state = settings.get("closedState") or "Done"
        self.reopen_state = settings.get("reopenState") or "To Do"
        self.closed_states = {self.closed_state.lower(), "closed", "done", "removed"}
        self.priority_field = settings.get("priorityField", "Microsoft.VSTS.Common.Priority")
        self.area_path = settings.get("areaPath")
        self.extra_tags = list(settings.get("tags") or [])
        basic = base64.b64encode(f":{token}".encode()).decode()
        self.client = RestClient(
            "azure-devops", f"set {TOKEN_ENVS[0]} or {TOKEN_ENVS[1]} to a valid personal access "
                            f"token with Work Items (Read & write) scope for {org}",
            {"Authorization": f"Basic {basic}", "Accept": "application/json",
             "User-Agent": "kv-audit"}, **client_options)

    def list_tickets(self) -> list[Existing]:
        query = ("SELECT [System.Id] FROM WorkItems WHERE [System.TeamProject] = @project "
                 f"AND [System.Tags] CONTAINS '{TAG}' ORDER BY [System.Id]")
        result = self.client.json("POST", f"{self.base}/wiql?{API}", body={"query": query})
        ids = [item["id"] for item in (result or {}).get("workItems", [])]
        found = []
        for start in range(0, len(ids), 200):
            chunk = ",".join(str(i) for i in ids[start:start + 200])
            batch = self.client.json(
                "GET", f"{self.base}/workitems?ids={chunk}&fields={FIELDS}&{API}")
            for item in (batch or {}).get("value", []):
                existing = self._existing(item)
                if existing is not None:
                    found.append(existing)
        return found

    def _existing(self, item: dict) -> Existing | None:
        fields = item.get("fields") or {}
        raw_tags = str(fields.get("System.Tags") or "").split(";")
        tags = tuple(t.strip() for t in raw_tags if t.strip())
        keys = [t[len(KEY_TAG):].lower() for t in tags if t.lower().startswith(KEY_TAG)]
        if not keys:
            return None
        match = render.ADO_MARKER_RE.search(str(fields.get("System.Description") or ""))
        marks = frozenset(t[len(MARK_TAG):].lower() for t in tags
                          if t.lower() in ("kv-audit-suppressed", "kv-audit-resolved"))
        state = str(fields.get("System.State") or "")
        return Existing(id=int(item["id"]), key=keys[0],
                        is_open=state.lower() not in self.closed_states,
                        digest=match.group(1) if match else None, marks=marks, labels=tags)

    def _tags(self, key: str, existing: Existing | None, mark: str | None, ticket: Ticket | None = None) -> str:
        kept = [t for t in (existing.labels if existing else ())
                if t.lower() not in ("kv-audit-suppressed", "kv-audit-resolved")
                and (ticket is None or not t.lower().startswith(render.OWNER_LABEL))]
        wanted = [TAG, KEY_TAG + key, *self.extra_tags] + ([MARK_TAG + mark] if mark else [])
        owner = render.owner_label(ticket.owner, limit=100) if ticket is not None else None
        if owner:
            wanted.append(owner)
        seen, tags = set(), []
        for tag in kept + wanted:
            if tag.lower() not in seen:
                seen.add(tag.lower())
                tags.append(tag)
        return "; ".join(tags)

    def _content(self, ticket: Ticket, existing: Existing | None) -> list[dict]:
        ops = [_add("System.Title", render.title(ticket)),
               _add("System.Description", render.html_body(ticket)),
               _add("System.Tags", self._tags(ticket.key, existing, None, ticket))]
        if self.priority_field:
            ops.append(_add(self.priority_field, PRIORITY.get(ticket.severity, 2)))
        return ops

    def create(self, ticket: Ticket) -> Existing:
        ops = self._content(ticket, None)
        if self.area_path:
            ops.append(_add("System.AreaPath", self.area_path))
        item = self._patch("POST", f"{self.base}/workitems/${quote(self.work_item_type, safe='')}",
                           ops)
        saved = str((item.get("fields") or {}).get("System.Tags") or "").lower()
        if (KEY_TAG + ticket.key) not in [t.strip() for t in saved.split(";")]:
            raise TicketSinkError(
                f"azure-devops: work item {item.get('id')} was saved without the tag "
                f"{KEY_TAG + ticket.key!r}; without it re-runs would duplicate work items "
                "(the token's user may lack permission to create tags); stopping")
        return Existing(id=int(item["id"]), key=ticket.key, is_open=True,
                        digest=render.digest(ticket))

    def refresh(self, existing: Existing, ticket: Ticket, *, reopen: bool,
                comment: str | None) -> None:
        ops = self._content(ticket, existing)
        if reopen:
            ops.append(_add("System.State", self.reopen_state))
        if comment:
            ops.append(_add("System.History", _html_text(comment)))
        self._patch("PATCH", f"{self.base}/workitems/{existing.id}", ops)

    def annotate(self, existing: Existing, comment: str, *, mark: str, close: bool) -> None:
        ops = [_add("System.History", _html_text(comment)),
               _add("System.Tags", self._tags(existing.key, existing, mark))]
        if close:
            ops.append(_add("System.State", self.closed_state))
        self._patch("PATCH", f"{self.base}/workitems/{existing.id}", ops)

    def _patch(self, method: str, url: str, ops: list[dict]) -> dict:
        return self.client.json(method, f"{url}?{API}", body=ops,
                                content_type="application/json-patch+json")


def _add(field: str, value) -> dict:
    return {"op": "add", "path": f"/fields/{field}", "value": value}


def _html_text(text: str) -> str:
    return "<br>".join(html.escape(line) for line in text.split("\n"))
