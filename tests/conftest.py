"""Shared fixtures: the embedded fact base is loaded once per session."""

from __future__ import annotations

import pytest

from reeplan.data import FactBase, load_factbase


@pytest.fixture(scope="session")
def facts() -> FactBase:
    return load_factbase()
