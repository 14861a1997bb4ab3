"""Microsoft Graph requests through the azure-core pipeline, paced like the Resource Graph ones.

One :class:`GraphClient` per collection: an ``azure.core.PipelineClient`` whose pipeline carries a
``BearerTokenCredentialPolicy`` for the cloud's Graph scope (``https://graph.microsoft.com/.default``
in the public cloud) from the credential the Resource Graph client uses. azure-core's own retry
policy is left out: 429s wait for ``Retry-After`` (header names are case-insensitive) and 5xx
answers and dropped connections are retried a bounded number of times, all through the
collector's :class:`~audit_function.collect.pacing.Pacer`, so tests run on a virtual clock.

Answers that are not a success become a :class:`GraphError` whose ``kind`` says what the caller
does with it; :func:`classify` is also used for the answers inside a JSON ``$batch``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping
from urllib.parse import urlparse

from azure.core import PipelineClient
from azure.core.exceptions import ClientAuthenticationError, ServiceRequestError, ServiceResponseError
from azure.core.pipeline.policies import BearerTokenCredentialPolicy, HeadersPolicy, ProxyPolicy, UserAgentPolicy
from azure.core.pipeline.transport import RequestsTransport
from azure.core.rest import HttpRequest
from azure.core.utils import CaseInsensitiveDict

from audit_function import __version__
from audit_function.collect.pacing import Pacer

API_VERSION = "v1.0"
#: Consecutive failures of one request before it is given up (the collector's numbers).
MAX_THROTTLED = 10
MAX_TRANSIENT = 5
READ_TIMEOUT_S = 120.0
_TRANSIENT = {408, 500, 502, 503, 504}


class GraphError(Exception):
    """A Graph request that did not succeed.

    kind: ``denied`` (401/403: the identity may not read the directory), ``throttled`` (429),
    ``transient`` (5xx, 408, connection failures), ``not_found`` (404), ``too_many_results``
    (400 Directory_ResultSizeLimitExceeded), ``bad_request`` (other 400s), ``fatal`` (the rest).
    """

    def __init__(self, kind: str, message: str, status: int | None = None, code: str = "",
                 headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.kind, self.status, self.code = kind, status, code
        self.headers = CaseInsensitiveDict(headers or {})


def error_text(status: int | None, body) -> tuple[str, str]:
    """(code, readable message) from a Graph error body ``{"error": {"code", "message",
    "details": [...], "innerError": {"request-id", "date"}}}``; the request id is kept because
    Microsoft support asks for it."""
    err = body.get("error") if isinstance(body, dict) else None
    if not isinstance(err, dict):
        return "", f"HTTP {status}"
    code, message = str(err.get("code") or ""), str(err.get("message") or "")
    details = [str(d.get("message") or d.get("code") or "") for d in err.get("details") or []
               if isinstance(d, dict)]
    inner = err.get("innerError") or err.get("innererror") or {}
    request_id = inner.get("request-id") if isinstance(inner, dict) else None
    text = f"HTTP {status} {code}: {message}".rstrip(": ")
    if details:
        text += " (" + "; ".join(d for d in details if d) + ")"
    if request_id:
        text += f" [request-id {request_id}]"
    return code, text


def classify(status: int | None, body, headers: Mapping[str, str] | None = None) -> GraphError:
    code, text = error_text(status, body)
    if status == 429:
        kind = "throttled"
    elif status in (401, 403):
        kind = "denied"
    elif status == 404:
        kind = "not_found"
    elif status == 400 and code == "Directory_ResultSizeLimitExceeded":
        kind = "too_many_results"
    elif status == 400:
        kind = "bad_request"
    elif status is not None and status in _TRANSIENT:
        kind = "transient"
    else:
        kind = "fatal"
    return GraphError(kind, text, status, code, headers)


class GraphClient:
    """POST/GET against ``{endpoint}/v1.0`` with bearer tokens, pacing and bounded retries."""

    def __init__(self, credential, endpoint: str, token_scope: str, verify, pacer: Pacer, progress=None) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.pacer, self.progress = pacer, progress
        self.requests = 0
        self._lock = threading.Lock()
        self._host = urlparse(self.endpoint).netloc.lower()
        policies = [HeadersPolicy({"Accept": "application/json"}),
                    UserAgentPolicy(user_agent=f"kv-audit/{__version__}"),
                    ProxyPolicy(),
                    BearerTokenCredentialPolicy(credential, token_scope)]
        self._client = PipelineClient(base_url=self.endpoint, policies=policies,
                                      transport=RequestsTransport(connection_verify=verify))

    def close(self) -> None:
        self._client.close()

    def url(self, path: str) -> str:
        """Absolute URL for a path below /v1.0, or an @odata.nextLink checked to stay on the
        Graph host (the bearer token is never sent anywhere else)."""
        if path.startswith(("https://", "http://")):
            if urlparse(path).netloc.lower() != self._host:
                raise GraphError("fatal", f"Graph returned a link to another host: {path}")
            return path
        return f"{self.endpoint}/{API_VERSION}{path}"

    def _send_once(self, method: str, url: str, body) -> tuple[int, object, CaseInsensitiveDict]:
        request = HttpRequest(method, url, json=body) if body is not None else HttpRequest(method, url)
        left = self.pacer.remaining()
        timeout = READ_TIMEOUT_S if left is None else min(READ_TIMEOUT_S, max(5.0, left))
        try:
            response = self._client.send_request(request, read_timeout=timeout)
        except ClientAuthenticationError as exc:  # no token for the Graph scope
            raise GraphError("denied", f"no token for Microsoft Graph: {_first_line(str(exc))}") from None
        except (ServiceRequestError, ServiceResponseError) as exc:
            if "CERTIFICATE_VERIFY_FAILED" in str(exc):  # retrying cannot help
                raise GraphError("fatal", f"TLS certificate of {self.endpoint} is not trusted "
                                 f"({_first_line(str(exc))}); point REQUESTS_CA_BUNDLE or SSL_CERT_FILE at the "
                                 "CA bundle to trust") from None
            raise GraphError("transient", f"connection to {self.endpoint} failed: {_first_line(str(exc))}") from None
        headers = CaseInsensitiveDict(response.headers)
        try:
            payload = json.loads(response.text() or "null")
        except ValueError:
            payload = None
        return response.status_code, payload, headers

    def call(self, method: str, path: str, body=None) -> dict:
        """One request, retried on 429 (Retry-After) and transient failures; raises GraphError."""
        url = self.url(path)
        throttled = transient = 0
        while True:
            with self._lock:   # batches run in a few threads; a wait holds the others back too
                self.pacer.before_request()
                self.requests += 1
            try:
                status, payload, headers = self._send_once(method, url, body)
            except GraphError as err:
                if err.kind != "transient" or transient >= MAX_TRANSIENT:
                    raise
                transient += 1
                with self._lock:
                    self.pacer.transient(err.headers, transient)
                continue
            if 200 <= status < 300:
                return payload if isinstance(payload, dict) else {}
            err = classify(status, payload, headers)
            if err.kind == "throttled" and throttled < MAX_THROTTLED:
                throttled += 1
                with self._lock:
                    self.pacer.throttled(err.headers, throttled)
                continue
            if err.kind == "transient" and transient < MAX_TRANSIENT:
                transient += 1
                if self.progress is not None:
                    self.progress("retry", attempt=transient, error=str(err))
                with self._lock:
                    self.pacer.transient(err.headers, transient)
                continue
            raise err

    def wait(self, kind: str, headers: Mapping[str, str], attempt: int) -> None:
        """The wait an answer inside a $batch asked for (``throttled`` or ``transient``)."""
        with self._lock:
            (self.pacer.throttled if kind == "throttled" else self.pacer.transient)(headers, attempt)

    def pages(self, method: str, path: str, body=None) -> Iterator[list]:
        """The ``value`` of each page, following ``@odata.nextLink`` (always a GET)."""
        answer = self.call(method, path, body)
        seen: set[str] = set()
        while True:
            value = answer.get("value")
            yield value if isinstance(value, list) else []
            link = answer.get("@odata.nextLink")
            if not isinstance(link, str) or not link or link in seen:
                return
            seen.add(link)
            answer = self.call("GET", link)

    def batch(self, requests: list[dict]) -> dict[str, dict]:
        """One JSON ``$batch`` (at most 20 requests, learn.microsoft.com/graph/json-batching);
        returns ``{request id: {"status", "headers" (case-insensitive), "body"}}``. The batch itself
        is retried like any request; the caller decides about each answer inside it."""
        answer = self.call("POST", "/$batch", {"requests": requests})
        out = {}
        for item in answer.get("responses") or []:
            if isinstance(item, dict) and item.get("id") is not None:
                out[str(item["id"])] = {"status": item.get("status"),
                                        "headers": CaseInsensitiveDict(item.get("headers") or {}),
                                        "body": item.get("body")}
        return out


def _first_line(text: str) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return lines[0] if lines else text


def token_tenant(credential, token_scope: str) -> str | None:
    """The tenant the directory answered for: the ``tid`` claim of the Graph access token (a JWT).

    ``None`` when the token is not a readable JWT: then no identity is ever called deleted
    (``estate/directory.py``). Only the claim is read; the signature is the service's business."""
    import base64
    import json

    try:
        token = credential.get_token(token_scope).token
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        tid = claims.get("tid") if isinstance(claims, dict) else None
    except Exception:  # noqa: BLE001 - any unreadable token: the tenant is unknown, which is safe
        return None
    return tid.lower() if isinstance(tid, str) and tid else None
