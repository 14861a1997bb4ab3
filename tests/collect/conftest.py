"""Fixtures for the collector tests: loopback-only networking, a clean environment, fakes."""

from __future__ import annotations

import ipaddress
import math
import os
import socket
import time

import pytest
from azure.core.credentials import AccessToken

from audit_function.collect import LiveScope, collect_snapshot
from audit_function.collect.filters import keep_role_assignment
from tests.fakes.arg_server import MG_PREFIX, FakeArg, Faults
from tests.fakes.clock import VirtualClock

_ENV_PREFIXES = ("AZURE_", "IDENTITY_", "MSI_", "IMDS_", "KV_AUDIT_")
_ENV_NAMES = ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "CURL_CA_BUNDLE", "HTTP_PROXY", "HTTPS_PROXY",
              "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy")


@pytest.fixture(autouse=True)
def hermetic(monkeypatch):
    """Every connection must go to loopback (no IMDS at 169.254.169.254, no internet), and no
    Azure/identity/proxy/CA variable of the machine leaks into a test."""
    for name in list(os.environ):
        if name.startswith(_ENV_PREFIXES) or name in _ENV_NAMES:
            monkeypatch.delenv(name, raising=False)
    real_connect = socket.socket.connect

    def connect(self, address):
        host = address[0] if isinstance(address, tuple) else None
        if host is not None and host != "localhost":
            try:
                loopback = ipaddress.ip_address(host).is_loopback
            except ValueError:
                loopback = False
            if not loopback:
                raise ConnectionRefusedError(f"test tried to reach {host}: only loopback is allowed")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)


class StaticCredential:
    """A TokenCredential that records the scopes it is asked for."""

    def __init__(self, token: str = "fake-token") -> None:
        self.token, self.scopes = token, []

    def get_token(self, *scopes, **kwargs):
        self.scopes.append(scopes)
        return AccessToken(self.token, int(time.time()) + 3600)


@pytest.fixture
def clock():
    return VirtualClock()


@pytest.fixture
def serve(clock, tmp_path):
    """serve(tables, **faults) -> a running FakeArg on the test's virtual clock."""
    started = []

    def make(tables, token="fake-token", **faults):
        fake = FakeArg(tables, clock=clock, faults=Faults(**faults), token=token, cert_dir=tmp_path / f"tls{len(started)}")
        started.append(fake)
        return fake

    yield make
    for fake in started:
        fake.close()


@pytest.fixture
def collect(clock):
    """collect(fake, scope=LiveScope(), **kw): collect_snapshot against a fake, virtual time."""

    def run(fake, scope=LiveScope(), **kw):
        kw.setdefault("credential", StaticCredential())
        kw.setdefault("connection_verify", str(fake.ca_path))
        return collect_snapshot(scope, endpoint=kw.pop("endpoint", fake.url), sleep=clock.sleep, clock=clock.now, **kw)

    return run


def expected_rows(tables, *, subs=None, forbidden=()):
    """What a complete collection must return: every vault/subscription (in `subs` when given, minus
    `forbidden`), every management group and role definition, and role assignments kept by the filter
    that lie in, above or below the requested subscriptions."""
    forbidden = {s.lower() for s in forbidden}
    wanted = None if subs is None else {s.lower() for s in subs} - forbidden

    def sub_ok(sub):
        return wanted is None or str(sub).lower() in wanted

    out = {
        "subscriptions": [r for r in tables["subscriptions"] if sub_ok(r["subscriptionId"])],
        "vaults": [r for r in tables["vaults"] if sub_ok(r["subscriptionId"])],
        "management_groups": tables["management_groups"],
        "role_definitions": tables["role_definitions"],
        "lighthouse_delegations": [r for r in tables.get("lighthouse_delegations", []) if sub_ok(r["subscriptionId"])],
        "resource_groups": [r for r in tables.get("resource_groups", []) if sub_ok(r["subscriptionId"])],
        "managed_hsms": [r for r in tables.get("managed_hsms", []) if sub_ok(r["subscriptionId"])],
    }
    above = None  # management groups above the wanted subscriptions
    if wanted is not None:
        above = {m["name"].lower() for r in out["subscriptions"]
                 for m in r["properties"]["managementGroupAncestorsChain"]}
    ras = []
    for r in tables["role_assignments"]:
        if not keep_role_assignment(r):
            continue
        scope = r["properties"]["scope"].lower()
        if scope.startswith("/subscriptions/") and not sub_ok(scope.split("/")[2]):
            continue
        if above is not None and scope.startswith(MG_PREFIX) and scope[len(MG_PREFIX):] not in above:
            continue
        ras.append(r)
    out["role_assignments"] = ras
    return out


def ids(rows):
    return sorted(r["id"] for r in rows)


def minimum_requests(expected):
    """One request per page of 1000 rows per table; an empty table still costs one request."""
    return sum(max(1, math.ceil(len(rows) / 1000)) for rows in expected.values())
