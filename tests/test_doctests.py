"""Every example in a docstring runs and gives what it shows."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "reeplan.data",
    "reeplan.data.checks",
    "reeplan.metrics.basket",
    "reeplan.metrics.concentration",
    "reeplan.metrics.dependence",
    "reeplan.flows.coproduction",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
    assert result.attempted > 0
