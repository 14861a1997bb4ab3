"""Fixtures shared with the tests these moved away from (found by name by pytest)."""

from tests.history.conftest import *  # noqa: F401,F403
