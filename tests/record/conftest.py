from __future__ import annotations

import pytest

from cds_service.policy import Policy, load_policy


@pytest.fixture(scope="session")
def policy() -> Policy:
    return load_policy()
