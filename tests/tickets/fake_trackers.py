"""Loopback stand-ins for the GitHub Issues and Azure DevOps work item REST APIs.

Each serves, on 127.0.0.1 and a free port, the calls the sinks make, with the documented request
and response shapes:

GitHub (REST 2022-11-28): ``GET /repos/{o}/{r}/issues`` (state, labels, per_page, page; ``Link``
header; pull requests included as items with a ``pull_request`` key), ``POST .../issues``
(201), ``PATCH .../issues/{n}``, ``POST .../issues/{n}/comments`` (201); ``Authorization:
Bearer`` checked (401 ``Bad credentials``).

Azure DevOps (7.1): ``POST /{org}/{project}/_apis/wit/wiql`` -> ``{"workItems": [{id, url}]}``;
``GET .../workitems?ids=&fields=`` (at most 200 ids) -> ``{"count", "value"}``;
``POST .../workitems/$Type`` and ``PATCH .../workitems/{id}`` with ``application/json-patch+json``
bodies; Basic auth with an empty user name (401 otherwise); ``api-version=7.1`` required;
states of the Basic process (To Do, Doing, Done) enforced.

``fail_next(...)`` queues canned responses (429 with ``Retry-After``, secondary rate limits, ...)
that are served before the normal handling.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:  # keep test output quiet
        pass

    def _serve(self) -> None:
        fake = self.server.fake
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        request = {"method": self.command, "path": parts.path, "query": parse_qs(parts.query),
                   "headers": {k.lower(): v for k, v in self.headers.items()},
                   "body": json.loads(raw) if raw else None}
        with fake.lock:
            fake.requests.append(request)
            fault = fake.take_fault(request)
            status, headers, body = fault if fault else fake.handle(request)
        data = b"" if body is None else (body if isinstance(body, bytes)
                                          else json.dumps(body).encode())
        self.send_response(status)
        headers = dict(headers)
        headers.setdefault("Content-Type", "application/json; charset=utf-8")
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PATCH = _serve


class FakeServer:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests: list[dict] = []
        self.faults: list[dict] = []
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.fake = self
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02},
                                       daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def fail_next(self, status: int, *, headers: dict | None = None, body=None,
                  times: int = 1, method: str | None = None) -> None:
        for _ in range(times):
            self.faults.append({"status": status, "headers": headers or {}, "body": body,
                                "method": method})

    def take_fault(self, request: dict):
        for i, fault in enumerate(self.faults):
            if fault["method"] in (None, request["method"]):
                del self.faults[i]
                return fault["status"], fault["headers"], fault["body"]
        return None

    def writes(self) -> list[dict]:
        return [r for r in self.requests if r["method"] != "GET" and not r["path"].endswith("/wiql")]


# --- GitHub -----------------------------------------------------------------------------------

class FakeGitHub(FakeServer):
    def __init__(self, owner: str = "contoso", repo: str = "security", token: str = "gh-token",
                 prefix: str = "") -> None:
        super().__init__()
        self.base = f"{prefix}/repos/{owner}/{repo}"
        self.api_url = self.url + prefix
        self.token = token
        self.issues: dict[int, dict] = {}
        self.comments: dict[int, list[str]] = {}
        self.next_number = 1
        self.drop_labels = False   # what GitHub does for a token without triage access

    def add_pull_request(self, title: str, labels: list[str]) -> None:
        number = self._number()
        self.issues[number] = {"number": number, "title": title, "body": "", "state": "open",
                               "labels": [{"name": n} for n in labels],
                               "pull_request": {"url": "x"}}

    def _number(self) -> int:
        number = self.next_number
        self.next_number += 1
        return number

    def open_issues(self) -> list[dict]:
        return [i for i in self.issues.values() if i["state"] == "open" and "pull_request" not in i]

    def handle(self, request: dict):
        if request["headers"].get("authorization") != f"Bearer {self.token}":
            return 401, {}, {"message": "Bad credentials",
                             "documentation_url": "https://docs.github.com/rest"}
        path, method, body = request["path"], request["method"], request["body"]
        if path == f"{self.base}/issues" and method == "GET":
            return self._list(request["query"])
        if path == f"{self.base}/issues" and method == "POST":
            number = self._number()
            issue = {"number": number, "title": body["title"], "body": body.get("body") or "",
                     "state": "open", "state_reason": None,
                     "labels": [] if self.drop_labels else
                               [{"name": n} for n in body.get("labels") or []],
                     "html_url": f"https://github.example/issues/{number}"}
            self.issues[number] = issue
            return 201, {}, issue
        match = re.fullmatch(rf"{re.escape(self.base)}/issues/(\d+)(/comments)?", path)
        if match and int(match.group(1)) in self.issues:
            issue = self.issues[int(match.group(1))]
            if match.group(2) and method == "POST":
                self.comments.setdefault(issue["number"], []).append(body["body"])
                return 201, {}, {"id": len(self.comments[issue["number"]]), "body": body["body"]}
            if not match.group(2) and method == "PATCH":
                for key in ("title", "body", "state", "state_reason"):
                    if key in body:
                        issue[key] = body[key]
                if "labels" in body:
                    issue["labels"] = [{"name": n} for n in body["labels"]]
                return 200, {}, issue
        return 404, {}, {"message": "Not Found"}

    def _list(self, query: dict):
        state = query.get("state", ["open"])[0]
        wanted = [n for n in query.get("labels", [""])[0].split(",") if n]
        per_page = int(query.get("per_page", ["30"])[0])
        page = int(query.get("page", ["1"])[0])
        items = [i for i in sorted(self.issues.values(), key=lambda i: -i["number"])
                 if (state == "all" or i["state"] == state)
                 and all(n in [label["name"] for label in i["labels"]] for n in wanted)]
        chunk = items[(page - 1) * per_page: page * per_page]
        headers = {}
        if page * per_page < len(items):
            next_query = f"state={state}&labels={','.join(wanted)}&per_page={per_page}&page={page + 1}"
            headers["Link"] = f'<{self.url}{self.base}/issues?{next_query}>; rel="next"'
        return 200, headers, chunk


# --- Azure DevOps -----------------------------------------------------------------------------

BASIC_STATES = ("To Do", "Doing", "Done")


class FakeAzureDevOps(FakeServer):
    def __init__(self, org: str = "contoso", project: str = "Sec Ops", token: str = "ado-pat") -> None:
        super().__init__()
        self.org_url = f"{self.url}/{org}"
        self.prefix = f"/{org}/{project.replace(' ', '%20')}/_apis/wit"
        self.token = token
        self.items: dict[int, dict] = {}
        self.history: dict[int, list[str]] = {}
        self.next_id = 100
        self.sign_in_page = False   # answer bad credentials like ADO sometimes does: 203 + HTML
        self.drop_tags = False      # a user who may not create tags

    def open_items(self) -> list[dict]:
        return [i for i in self.items.values() if i["fields"]["System.State"] != "Done"]

    def handle(self, request: dict):
        expected = "Basic " + base64.b64encode(f":{self.token}".encode()).decode()
        if request["headers"].get("authorization") != expected:
            if self.sign_in_page:
                return 203, {"Content-Type": "text/html"}, b"<html>Sign In</html>"
            return 401, {}, {"message": "TF400813: The user is not authorized."}
        if request["query"].get("api-version") != ["7.1"]:
            return 400, {}, {"message": "api-version 7.1 expected"}
        path, method = request["path"], request["method"]
        if path == f"{self.prefix}/wiql" and method == "POST":
            query = request["body"]["query"]
            tag = re.search(r"\[System\.Tags\] CONTAINS '([^']+)'", query).group(1)
            ids = sorted(i for i, item in self.items.items() if tag.lower() in self._tags(item))
            return 200, {}, {"queryType": "flat", "queryResultType": "workItem",
                             "workItems": [{"id": i, "url": f"{self.url}{self.prefix}/workItems/{i}"}
                                           for i in ids]}
        if path == f"{self.prefix}/workitems" and method == "GET":
            ids = [int(i) for i in request["query"]["ids"][0].split(",")]
            if len(ids) > 200:
                return 400, {}, {"message": "too many ids"}
            fields = request["query"].get("fields", [""])[0].split(",")
            value = [{"id": i, "rev": self.items[i]["rev"],
                      "fields": {f: self.items[i]["fields"][f] for f in fields
                                 if f in self.items[i]["fields"]}}
                     for i in ids if i in self.items]
            return 200, {}, {"count": len(value), "value": value}
        if request["headers"].get("content-type") != "application/json-patch+json":
            return 415, {}, {"message": "application/json-patch+json expected"}
        create = re.fullmatch(rf"{re.escape(self.prefix)}/workitems/\$(.+)", path)
        if create and method == "POST":
            item = {"id": self.next_id, "rev": 0,
                    "fields": {"System.WorkItemType": create.group(1).replace("%20", " "),
                               "System.State": "To Do"}}
            self.next_id += 1
            error = self._apply(item, request["body"])
            if error:
                return 400, {}, {"message": error}
            self.items[item["id"]] = item
            return 200, {}, item
        update = re.fullmatch(rf"{re.escape(self.prefix)}/workitems/(\d+)", path)
        if update and method == "PATCH" and int(update.group(1)) in self.items:
            item = self.items[int(update.group(1))]
            error = self._apply(item, request["body"])
            return (400, {}, {"message": error}) if error else (200, {}, item)
        return 404, {}, {"message": "not found"}

    def _apply(self, item: dict, ops: list[dict]) -> str | None:
        for op in ops:
            if op.get("op") != "add" or not op["path"].startswith("/fields/"):
                return f"unsupported op {op}"
            name = op["path"][len("/fields/"):]
            if name == "System.History":
                self.history.setdefault(item["id"], []).append(op["value"])
            elif name == "System.State" and op["value"] not in BASIC_STATES:
                return f"TF401320: state {op['value']!r} is not valid"
            elif name == "System.Tags" and self.drop_tags:
                continue
            elif name == "System.Tags":
                tags = sorted({t.strip() for t in op["value"].split(";") if t.strip()}, key=str.lower)
                item["fields"][name] = "; ".join(tags)   # the service answers with sorted tags
            else:
                item["fields"][name] = op["value"]
        item["rev"] += 1
        return None

    @staticmethod
    def _tags(item: dict) -> list[str]:
        return [t.strip().lower() for t in item["fields"].get("System.Tags", "").split(";")]
