"""Fixtures for the Function tests: an Azurite blob service on a free loopback port.

Azurite comes from node_modules (``./dev setup`` installs it from package-lock.json). One
instance serves the whole session; each test gets its own container.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
AZURITE = REPO / "node_modules" / ".bin" / "azurite-blob"

# Azurite's well-known development account (public, documented; not a secret).
DEV_ACCOUNT = "devstoreaccount1"
DEV_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def connection_string(port: int) -> str:
    return (f"DefaultEndpointsProtocol=http;AccountName={DEV_ACCOUNT};AccountKey={DEV_KEY};"
            f"BlobEndpoint=http://127.0.0.1:{port}/{DEV_ACCOUNT};")


def _wait_for_port(port: int, proc: subprocess.Popen, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            detail = proc.stderr.read().decode(errors="replace").strip() if proc.stderr else ""
            raise RuntimeError(f"azurite-blob exited with code {proc.returncode} before listening "
                               f"(needs Node.js 20+; ./dev setup installs Azurite): {detail[-500:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"azurite-blob did not listen on 127.0.0.1:{port} within {timeout:.0f} s")


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory):
    """Connection string of a running Azurite blob service; stopped at the end of the session."""
    if not AZURITE.exists():
        pytest.fail(f"Azurite is not installed ({AZURITE} is missing): run ./dev setup", pytrace=False)
    port = free_port()
    data = tmp_path_factory.mktemp("azurite")
    proc = subprocess.Popen(
        [str(AZURITE), "--blobHost", "127.0.0.1", "--blobPort", str(port), "--location", str(data),
         "--silent", "--disableTelemetry", "--skipApiVersionCheck"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
    )
    try:
        _wait_for_port(port, proc)
        yield connection_string(port)
    finally:
        _stop(proc)


def _stop(proc: subprocess.Popen) -> None:
    """Stop Azurite (its own process group: the .bin shim may have started node as a child)."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
    if proc.stderr:
        proc.stderr.close()


@pytest.fixture
def container_name() -> str:
    return f"kvaudit-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def container(azurite: str, container_name: str):
    """A fresh ContainerClient on Azurite (created), deleted after the test."""
    from azure.storage.blob import ContainerClient

    client = ContainerClient.from_connection_string(azurite, container_name)
    client.create_container()
    yield client
    client.delete_container()
    client.close()
