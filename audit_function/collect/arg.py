"""One Resource Graph request through the real azure-mgmt-resourcegraph client.

The SDK's own retries are off (``retry_total=0``): the collector decides about every retry.
Answers are turned into a :class:`Page` or one of the :class:`ArgError` kinds below.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from collections.abc import Mapping

from azure.core.exceptions import (ClientAuthenticationError, HttpResponseError, ServiceRequestError,
                                   ServiceResponseError)
from azure.core.utils import CaseInsensitiveDict
from azure.mgmt.resourcegraph import ResourceGraphClient

from audit_function import __version__
from audit_function.errors import CollectionError

#: Newest stable version; 2021-03-01 (the SDK default) lacks authorizationScopeFilter.
API_VERSION = "2024-04-01"
SUBSCRIPTION_LIMIT_HEADER = "x-ms-tenant-subscription-limit-hit"

LOGIN_HELP = (
    "DefaultAzureCredential tried, in order: environment variables (AZURE_TENANT_ID, AZURE_CLIENT_ID "
    "and AZURE_CLIENT_SECRET or AZURE_CLIENT_CERTIFICATE_PATH), workload identity, managed identity, "
    "Azure CLI, Azure PowerShell and Azure Developer CLI, and none gave a token. On a laptop run "
    "'az login' (for another cloud first 'az cloud set --name AzureUSGovernment' or 'AzureChinaCloud'); "
    "in the Azure Function enable the app's managed identity and give it Reader on the scopes to audit.")


@dataclass
class Page:
    rows: list
    skip_token: str | None
    total_records: int | None
    truncated: bool
    headers: Mapping[str, str] = field(default_factory=dict)


class ArgError(Exception):
    """A request that did not give a page. ``kind`` says what the collector should do."""

    def __init__(self, kind: str, message: str, status: int | None = None,
                 code: str = "", headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.kind = kind  # throttled | forbidden | too_large | too_many_subs | bad_skip_token | transient | fatal
        self.status, self.code, self.headers = status, code, headers or {}


#: Resource Graph's answer to a $skipToken it cannot use (real code first; older fakes used the second).
SKIP_TOKEN_CODES = ("CouldNotDecodeSkipToken", "InvalidSkipToken")


def _error_codes(response) -> tuple[str, str, list[tuple[str, str]]]:
    """(code, message, [(detail code, detail message)]) from an ARM error body; empty when it is not one.

    Real Resource Graph errors put support boilerplate ("Please provide below info when asking for
    support: timestamp = ..., correlationId = ...") in ``error.message`` and the cause in
    ``error.details[].message``: both are kept."""
    try:
        body = json.loads(response.text())
        err = body.get("error") or {}
        details = [(str(d.get("code", "") or ""), str(d.get("message", "") or ""))
                   for d in err.get("details") or [] if isinstance(d, dict)]
        return str(err.get("code", "") or ""), str(err.get("message", "") or ""), details
    except (ValueError, AttributeError, TypeError):
        return "", "", []


def error_text(status, code: str, message: str, details: list[tuple[str, str]]) -> str:
    """'HTTP 400 BadRequest: InvalidQuery: <cause>; ParserFailure: <cause> (<top-level message>)'."""
    causes = "; ".join(f"{c}: {m}" if c and m else c or m for c, m in details if c or m)
    if causes:
        return f"HTTP {status} {code}: {causes}" + (f" ({message})" if message else "")
    return f"HTTP {status} {code}: {message}".strip()


def _rows(data) -> list:
    """objectArray rows as they are; a 'table' answer ({columns, rows}) turned into objects."""
    if isinstance(data, list):
        return data
    if isinstance(data, dict) and "columns" in data:
        names = [c.get("name") for c in data.get("columns") or []]
        return [dict(zip(names, r)) for r in data.get("rows") or []]
    return []


def classify(exc: HttpResponseError) -> ArgError:
    """Map an HTTP error answer to an ArgError kind."""
    response = exc.response
    status = exc.status_code or (response.status_code if response is not None else None)
    # case-insensitive like the success path's headers: 'retry-after' must be found as 'Retry-After'
    headers = CaseInsensitiveDict(response.headers) if response is not None else {}
    code, message, details = _error_codes(response) if response is not None else ("", "", [])
    codes = {code, *(c for c, _ in details)}
    text = error_text(status, code, message or ("" if details else str(exc.message or "")), details)
    if status == 429:
        return ArgError("throttled", text, status, code, headers)
    if status == 403:
        return ArgError("forbidden", text, status, code, headers)
    if "ResponsePayloadTooLarge" in codes or "ResponsePayloadTooLarge" in message:
        return ArgError("too_large", text, status, "ResponsePayloadTooLarge", headers)
    if codes.intersection(SKIP_TOKEN_CODES):
        found = next(c for c in SKIP_TOKEN_CODES if c in codes)
        return ArgError("bad_skip_token", text, status, found, headers)
    if "TooManySubscriptionsUnderScope" in codes:
        return ArgError("too_many_subs", text, status, "TooManySubscriptionsUnderScope", headers)
    if status is not None and (status >= 500 or status == 408):
        return ArgError("transient", text, status, code, headers)
    return ArgError("fatal", text, status, code, headers)


class ArgClient:
    """ResourceGraphClient with raw JSON bodies (for authorizationScopeFilter) and no SDK retries."""

    def __init__(self, credential, endpoint: str, token_scope: str, verify) -> None:
        self.endpoint = endpoint
        self._client = ResourceGraphClient(
            credential, base_url=endpoint, credential_scopes=[token_scope], connection_verify=verify,
            retry_total=0, api_version=API_VERSION, user_agent=f"kv-audit/{__version__}")

    def close(self) -> None:
        self._client.close()

    def query(self, body: dict, read_timeout: float | None = None) -> Page:
        extra = {"read_timeout": read_timeout} if read_timeout else {}
        try:
            result, http = self._client.resources(
                json.dumps(body).encode("utf-8"), content_type="application/json",
                cls=lambda pipeline, deserialized, _: (deserialized, pipeline.http_response), **extra)
        except ClientAuthenticationError as exc:
            if exc.response is None:  # no token at all: the credential chain failed
                raise CollectionError(f"no Azure credential available. {LOGIN_HELP}\n"
                                      f"Details: {_first_lines(str(exc))}") from None
            raise CollectionError(f"Azure Resource Manager at {self.endpoint} rejected the token "
                                  f"(HTTP {exc.status_code}): {_first_lines(str(exc))}") from None
        except HttpResponseError as exc:
            raise classify(exc) from None
        except (ServiceRequestError, ServiceResponseError) as exc:
            if "CERTIFICATE_VERIFY_FAILED" in str(exc):
                raise CollectionError(
                    f"TLS certificate of {self.endpoint} is not trusted ({_first_lines(str(exc))}); "
                    "point REQUESTS_CA_BUNDLE or SSL_CERT_FILE at the CA bundle to trust") from None
            raise ArgError("transient", f"connection failed: {_first_lines(str(exc))}") from None
        return Page(rows=_rows(result.data), skip_token=result.skip_token or None,
                    total_records=result.total_records,
                    truncated=str(result.result_truncated).lower() == "true",
                    headers=CaseInsensitiveDict(http.headers))


def _first_lines(text: str, limit: int = 12) -> str:
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return " | ".join(lines[:limit]) + (" | ..." if len(lines) > limit else "")
