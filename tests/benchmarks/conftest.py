"""Fixtures of the benchmark tests, shared with the integration tests."""

from tests.integrations.conftest import fresh_share_quota  # noqa: F401 - a fixture, by name
