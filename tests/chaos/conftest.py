"""Fixtures of the fault tests: the fault-injecting proxy in front of moto."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.expect import FaultProxy


@pytest.fixture
def fault_proxy(moto: str) -> Iterator[FaultProxy]:
    proxy = FaultProxy()
    yield proxy
    proxy.close()
