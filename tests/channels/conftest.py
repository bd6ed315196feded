from __future__ import annotations

from collections.abc import Iterator

import pytest

from channels import ratelimit

from .motoserver import AWS_TEST_ENV, moto_reset, running_moto_server


@pytest.fixture(autouse=True)
def _aws_test_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    # boto3's standard chain finds these first: no real account is ever used
    for name, value in AWS_TEST_ENV.items():
        monkeypatch.setenv(name, value)


@pytest.fixture(autouse=True)
def _fresh_limiters() -> Iterator[None]:
    ratelimit.provider_limiters.clear()
    yield
    ratelimit.provider_limiters.clear()


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """Base URL of a real moto_server for the whole session."""
    with running_moto_server() as url:
        yield url


@pytest.fixture
def moto_url(moto_server: str) -> str:
    """The session's moto_server, emptied for this test."""
    moto_reset(moto_server)
    return moto_server
