from __future__ import annotations

import pytest
import requests

from tests.tickets.fake_trackers import FakeAzureDevOps, FakeGitHub


@pytest.fixture
def github():
    with FakeGitHub() as server:
        yield server


@pytest.fixture
def ado():
    with FakeAzureDevOps() as server:
        yield server


@pytest.fixture
def session():
    """Loopback only: never route test traffic through a proxy from the environment."""
    with requests.Session() as s:
        s.trust_env = False
        yield s


class Sleeps(list):
    """An injected sleep that records the requested waits instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps():
    return Sleeps()
