"""Shared fixtures: the embedded fact base is loaded once per session."""

from __future__ import annotations

import pytest
from hypothesis import settings

from reeplan.data import FactBase, load_factbase

# Deterministic property tests (same examples on every run and machine); no per-example
# deadline, since the first example pays for imports and a noisy CI machine is slow.
settings.register_profile("reeplan", deadline=None, derandomize=True, max_examples=100)
settings.load_profile("reeplan")


@pytest.fixture(scope="session")
def facts() -> FactBase:
    return load_factbase()
