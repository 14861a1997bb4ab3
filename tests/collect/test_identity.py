"""Credentials (the real DefaultAzureCredential against a loopback managed-identity endpoint),
clouds, the endpoint override and TLS trust through the standard CA-bundle variables."""

from __future__ import annotations

import pytest

from audit_function.collect import LiveScope, collect_snapshot
from audit_function.errors import CollectionError
from tests.collect.conftest import StaticCredential
from tests.fakes.estate import synthetic_estate
from tests.fakes.identity_server import FakeIdentity


@pytest.fixture(scope="module")
def estate():
    return synthetic_estate(subscriptions=2, vaults=6, assignments=60, seed=8)


@pytest.fixture
def identity(monkeypatch):
    fake = FakeIdentity()
    for name, value in fake.env().items():
        monkeypatch.setenv(name, value)
    yield fake
    fake.close()


def test_default_credential_uses_the_function_managed_identity(serve, clock, estate, identity):
    fake = serve(estate, token=identity.token)  # the fake ARG accepts only the managed identity's token
    snap = collect_snapshot(LiveScope(), endpoint=fake.url, connection_verify=str(fake.ca_path),
                            sleep=clock.sleep, clock=clock.now)
    assert snap.manifest["complete"] is True and snap.manifest["tables"]["vaults"] == 6
    assert len(identity.requests) == 1  # one token, cached for every page
    assert identity.requests[0]["query"]["resource"] == "https://management.azure.com"
    assert identity.requests[0]["header"] == identity.secret


@pytest.mark.parametrize("cloud, resource", [("usgov", "https://management.usgovcloudapi.net"),
                                             ("china", "https://management.chinacloudapi.cn")])
def test_sovereign_clouds_ask_for_their_own_token_scope(serve, clock, estate, identity, cloud, resource):
    fake = serve(estate, token=identity.token)
    collect_snapshot(LiveScope(), cloud=cloud, endpoint=fake.url, connection_verify=str(fake.ca_path),
                     sleep=clock.sleep, clock=clock.now)
    assert identity.requests[0]["query"]["resource"] == resource
    cred = StaticCredential(identity.token)
    collect_snapshot(LiveScope(), cloud=cloud, credential=cred, endpoint=fake.url,
                     connection_verify=str(fake.ca_path), sleep=clock.sleep, clock=clock.now)
    assert set(cred.scopes) == {(f"{resource}/.default",)}


def test_missing_credential_says_how_to_log_in(serve, clock, estate, monkeypatch, tmp_path):
    monkeypatch.setenv("AZURE_TOKEN_CREDENTIALS", "dev")  # developer tools only: no managed identity probe
    monkeypatch.setenv("PATH", str(tmp_path))               # no az, pwsh or azd on PATH
    monkeypatch.setenv("HOME", str(tmp_path))
    fake = serve(estate)
    with pytest.raises(CollectionError) as info:
        collect_snapshot(LiveScope(), endpoint=fake.url, connection_verify=str(fake.ca_path),
                         sleep=clock.sleep, clock=clock.now)
    message = str(info.value)
    assert "no Azure credential available" in message and "az login" in message
    assert "AzureCliCredential" in message  # the chain's own account of what it tried
    assert fake.requests == 0


def test_rejected_token_stops_collection(serve, collect, estate):
    fake = serve(estate, token="the-right-token")
    with pytest.raises(CollectionError, match="rejected the token"):
        collect(fake, credential=StaticCredential("a-wrong-token"))
    assert fake.requests == 1


def test_endpoint_override_from_the_environment(serve, clock, estate, monkeypatch):
    fake = serve(estate)
    monkeypatch.setenv("KV_AUDIT_ARM_ENDPOINT", fake.url + "/")
    snap = collect_snapshot(LiveScope(), credential=StaticCredential(), connection_verify=str(fake.ca_path),
                            sleep=clock.sleep, clock=clock.now)
    assert fake.requests == snap.manifest["requests"] > 0
    assert snap.manifest["endpoint"] == fake.url


@pytest.mark.parametrize("kwargs, message", [
    ({"cloud": "mooncake"}, "unknown cloud"),
    ({"endpoint": "http://127.0.0.1:9"}, "not an https:// URL"),
    ({"endpoint": "management.azure.com"}, "not an https:// URL"),
])
def test_bad_cloud_settings(kwargs, message):
    with pytest.raises(CollectionError, match=message):
        collect_snapshot(LiveScope(), credential=StaticCredential(), **kwargs)


@pytest.mark.parametrize("variable", ["REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"])
def test_tls_trust_from_ca_bundle_variables(serve, clock, estate, monkeypatch, variable):
    fake = serve(estate)
    monkeypatch.setenv(variable, str(fake.ca_path))
    snap = collect_snapshot(LiveScope(), credential=StaticCredential(), endpoint=fake.url,
                            sleep=clock.sleep, clock=clock.now)
    assert snap.manifest["complete"] is True


def test_untrusted_certificate_is_a_clear_error(serve, clock, estate):
    fake = serve(estate)
    with pytest.raises(CollectionError, match="not trusted.*REQUESTS_CA_BUNDLE"):
        collect_snapshot(LiveScope(), credential=StaticCredential(), endpoint=fake.url,
                         sleep=clock.sleep, clock=clock.now)
    assert fake.requests == 0


def test_ca_bundle_variable_naming_a_missing_file(monkeypatch, tmp_path):
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "nope.pem"))
    with pytest.raises(CollectionError, match="SSL_CERT_FILE.*no such CA bundle"):
        collect_snapshot(LiveScope(), credential=StaticCredential(), endpoint="https://127.0.0.1:9")


def test_imds_is_unreachable_from_tests():
    import socket

    with pytest.raises(ConnectionRefusedError, match="only loopback"):
        socket.create_connection(("169.254.169.254", 80), timeout=1)
