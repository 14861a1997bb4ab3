"""A small REST client shared by the ticket sinks: JSON in and out, rate limits, clear errors.

Rate limits: a 429, or a 403 that is a rate limit (GitHub's secondary limit: ``Retry-After``
present, ``x-ratelimit-remaining: 0``, or "rate limit" in the message), waits and retries. The
wait is ``Retry-After`` (seconds or an HTTP date), else ``x-ratelimit-reset`` (epoch seconds),
else an exponential back-off starting at one minute. 502/503/504 and connection errors retry with
a short back-off (network errors only for reads: a write that may have reached the server is
never repeated). Retries are bounded (``max_retries``), a single wait is bounded (``max_wait``),
and ``sleep``/``clock`` are injected so tests never wait.

Auth failures (401, a 403 that is not a rate limit, or Azure DevOps' 203 sign-in page) stop at
once with a ``TicketAuthError`` that names the sink and the environment variable to set.
"""

from __future__ import annotations

import time
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import requests

from audit_function.errors import SinkError


class TicketSinkError(SinkError):
    """A ticket sink could not do its work."""


class TicketAuthError(TicketSinkError):
    """The tracker rejected the credentials."""


RETRY_STATUS = frozenset({429, 502, 503, 504})


class RestClient:
    def __init__(self, sink: str, auth_hint: str, headers: dict, *, session=None,
                 sleep=time.sleep, clock=time.time, max_retries: int = 5,
                 max_wait: float = 900.0, timeout: float = 30.0) -> None:
        self.sink = sink
        self.auth_hint = auth_hint
        self.headers = dict(headers)
        self.session = session or requests.Session()
        self.sleep = sleep
        self.clock = clock
        self.max_retries = max_retries
        self.max_wait = max_wait
        self.timeout = timeout
        self.calls = 0      # requests sent, retries included
        self.waited = 0.0   # seconds slept for rate limits and back-off

    def request(self, method: str, url: str, *, body=None, params=None,
                content_type: str = "application/json") -> requests.Response:
        headers = dict(self.headers)
        if body is not None:
            headers["Content-Type"] = content_type
        where = f"{method} {_no_query(url)}"
        for attempt in range(self.max_retries + 1):
            self.calls += 1
            try:
                response = self.session.request(method, url, params=params, json=body,
                                                headers=headers, timeout=self.timeout)
            except requests.RequestException as e:
                # A write may have reached the server: never repeat it blindly. Re-running is
                # safe, because the next run reads back what was written.
                if method != "GET" or attempt == self.max_retries:
                    raise TicketSinkError(f"{self.sink}: {where} failed: {e}; re-running "
                                          "kv-audit tickets picks up from where it stopped") from e
                self._wait(min(2 ** attempt, 60), where)
                continue
            delay = self._retry_delay(response, attempt)
            if delay is None:
                self._check(response, where)
                return response
            if attempt == self.max_retries:
                break
            self._wait(delay, where)
        raise TicketSinkError(f"{self.sink}: {where} still failing after {self.max_retries} "
                              f"retries (last HTTP {response.status_code}: {_message(response)})")

    def _wait(self, seconds: float, where: str) -> None:
        if seconds > self.max_wait:
            raise TicketSinkError(f"{self.sink}: rate limited on {where}; the next wait would be "
                                  f"{seconds:.0f}s, more than the {self.max_wait:.0f}s allowed: "
                                  "run again later")
        self.waited += seconds
        self.sleep(seconds)

    def _retry_delay(self, response: requests.Response, attempt: int) -> float | None:
        status = response.status_code
        if status == 403 and not _is_rate_limit(response):
            return None
        if status not in RETRY_STATUS and status != 403:
            return None
        retry_after = response.headers.get("Retry-After")
        if retry_after:
            seconds = _parse_retry_after(retry_after, self.clock())
            if seconds is not None:
                return max(seconds, 0.0)
        if response.headers.get("x-ratelimit-remaining") == "0":
            reset = response.headers.get("x-ratelimit-reset")
            if reset and reset.strip().isdigit():
                return max(float(reset) - self.clock(), 0.0) + 1.0
        if status in (429, 403):
            return 60.0 * 2 ** attempt
        return float(min(2 ** attempt, 60))

    def _check(self, response: requests.Response, where: str) -> None:
        status = response.status_code
        html_page = "text/html" in response.headers.get("Content-Type", "")
        if status == 401 or status == 403 or (status == 203 and html_page):
            problem = "authentication failed" if status != 403 else "access denied"
            raise TicketAuthError(f"{self.sink}: {problem} (HTTP {status}) on {where}: "
                                  f"{self.auth_hint}")
        if status >= 400:
            raise TicketSinkError(f"{self.sink}: {where} failed: HTTP {status}: "
                                  f"{_message(response)}")

    def json(self, method: str, url: str, **kwargs):
        response = self.request(method, url, **kwargs)
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError as e:
            raise TicketSinkError(f"{self.sink}: {method} {_no_query(url)} returned "
                                  f"HTTP {response.status_code} without JSON") from e


def _is_rate_limit(response: requests.Response) -> bool:
    if response.headers.get("Retry-After") or response.headers.get("x-ratelimit-remaining") == "0":
        return True
    return "rate limit" in response.text.lower()


def _parse_retry_after(value: str, now: float) -> float | None:
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        return parsedate_to_datetime(value).timestamp() - now
    except (TypeError, ValueError):
        return None


def _message(response: requests.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return response.text[:200].strip() or response.reason or ""
    if isinstance(data, dict):
        return str(data.get("message") or data.get("error") or data)[:300]
    return str(data)[:300]


def _no_query(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"
