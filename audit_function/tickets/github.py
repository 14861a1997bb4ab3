"""GitHub Issues sink (REST API, version 2022-11-28).

Calls (``{api}`` is ``https://api.github.com`` or, for GitHub Enterprise Server,
``https://HOST/api/v3``):

- ``GET   {api}/repos/{owner}/{repo}/issues?state=all&labels=kv-audit&per_page=100`` (follows
  ``Link: rel="next"``; entries with a ``pull_request`` key are pull requests and skipped)
- ``POST  {api}/repos/{owner}/{repo}/issues`` ``{title, body, labels}``
- ``PATCH {api}/repos/{owner}/{repo}/issues/{number}``
  ``{title, body, labels, state, state_reason}``
- ``POST  {api}/repos/{owner}/{repo}/issues/{number}/comments`` ``{body}``

The key (fingerprint) is a hidden marker in the body: ``<!-- kv-audit:key=K digest=D -->``.
Every kv-audit issue carries the label ``kv-audit`` (configurable) plus ``severity:<level>`` and,
when its findings share one owner, ``owner:<owner>``; ``kv-audit:suppressed`` /
``kv-audit:resolved`` mark issues already commented on. Labels people add by hand are kept.
"""

from __future__ import annotations

from urllib.parse import quote

from audit_function.errors import ConfigError
from audit_function.tickets import render
from audit_function.tickets.http import RestClient, TicketSinkError
from audit_function.tickets.model import Ticket
from audit_function.tickets.sync import Existing

DEFAULT_API = "https://api.github.com"
TOKEN_ENV = "GITHUB_TOKEN"
MARK_PREFIX = "kv-audit:"
SEVERITY_PREFIX = "severity:"


class GitHubTracker:
    name = "github"

    def __init__(self, settings: dict, env: dict, **client_options) -> None:
        repository = str(settings.get("repository") or "").strip()
        owner, _, repo = repository.partition("/")
        if not owner or not repo or "/" in repo:
            raise ConfigError("github: set the repository as owner/name "
                              "(--repo or tickets.github.repository)")
        token = env.get(TOKEN_ENV)
        if not token:
            raise ConfigError(f"github: no token: set {TOKEN_ENV} to a token that can read and "
                              f"write issues in {repository}")
        api = str(settings.get("apiUrl") or DEFAULT_API).rstrip("/")
        self.base = f"{api}/repos/{quote(owner, safe='')}/{quote(repo, safe='')}"
        labels = list(settings.get("labels") or ["kv-audit"])
        self.label = labels[0]
        self.extra_labels = labels[1:]
        self.client = RestClient(
            "github", f"set {TOKEN_ENV} to a token with read and write access to issues in "
                      f"{repository}",
            {"Accept": "application/vnd.github+json", "Authorization": f"Bearer {token}",
             "X-GitHub-Api-Version": "2022-11-28", "User-Agent": "kv-audit"},
            **client_options)

    def list_tickets(self) -> list[Existing]:
        found = []
        url = f"{self.base}/issues"
        params = {"state": "all", "labels": self.label, "per_page": "100"}
        pages = 0
        while url:
            response = self.client.request("GET", url, params=params)
            try:
                issues = response.json()
            except ValueError as e:
                raise TicketSinkError(f"github: listing issues returned no JSON ({url})") from e
            for issue in issues:
                if "pull_request" in issue:
                    continue
                match = render.MARKER_RE.search(issue.get("body") or "")
                if not match:
                    continue
                labels = tuple(label["name"] for label in issue.get("labels") or [])
                found.append(Existing(
                    id=int(issue["number"]), key=match.group(1), is_open=issue["state"] == "open",
                    digest=match.group(2), labels=labels, url=issue.get("html_url"),
                    marks=frozenset(label[len(MARK_PREFIX):] for label in labels
                                    if label.startswith(MARK_PREFIX)),
                ))
            url = response.links.get("next", {}).get("url")
            params = None   # the next link carries its own query
            pages += 1
            if pages > 1000:
                raise TicketSinkError("github: more than 1000 pages of issues; stopping")
        return found

    def _labels(self, ticket: Ticket | None, existing: Existing | None, mark: str | None) -> list:
        kept = [label for label in (existing.labels if existing else ())
                if not label.startswith(MARK_PREFIX)
                and (ticket is None or not label.startswith((SEVERITY_PREFIX, render.OWNER_LABEL)))]
        wanted = [self.label, *self.extra_labels]
        if ticket is not None:
            wanted.append(SEVERITY_PREFIX + ticket.severity)
            owner = render.owner_label(ticket.owner)
            if owner:
                wanted.append(owner)
        if mark:
            wanted.append(MARK_PREFIX + mark)
        return list(dict.fromkeys(kept + wanted))

    def create(self, ticket: Ticket) -> Existing:
        issue = self.client.json("POST", f"{self.base}/issues", body={
            "title": render.title(ticket), "body": render.markdown(ticket),
            "labels": self._labels(ticket, None, None)})
        if self.label not in [label.get("name") for label in issue.get("labels") or []]:
            # GitHub silently drops labels when the token lacks triage/push access; without the
            # label the next run could not find this issue and would open another.
            raise TicketSinkError(
                f"github: issue #{issue.get('number')} was created without the label "
                f"{self.label!r}: the token needs triage (or write) access to set labels, or "
                "re-runs would duplicate issues; stopping")
        return Existing(id=int(issue["number"]), key=ticket.key, is_open=True,
                        digest=render.digest(ticket), url=issue.get("html_url"))

    def refresh(self, existing: Existing, ticket: Ticket, *, reopen: bool,
                comment: str | None) -> None:
        body = {"title": render.title(ticket), "body": render.markdown(ticket),
                "labels": self._labels(ticket, existing, None)}
        if reopen:
            body.update(state="open", state_reason="reopened")
        self.client.request("PATCH", f"{self.base}/issues/{existing.id}", body=body)
        if comment:
            self._comment(existing, comment)

    def annotate(self, existing: Existing, comment: str, *, mark: str, close: bool) -> None:
        self._comment(existing, comment)
        body: dict = {"labels": self._labels(None, existing, mark)}
        if close:
            reason = "not_planned" if mark == "suppressed" else "completed"
            body.update(state="closed", state_reason=reason)
        self.client.request("PATCH", f"{self.base}/issues/{existing.id}", body=body)

    def _comment(self, existing: Existing, text: str) -> None:
        self.client.request("POST", f"{self.base}/issues/{existing.id}/comments",
                            body={"body": text})
