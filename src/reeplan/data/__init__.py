"""The embedded fact base: tables, schemas, provenance and validation.

>>> from reeplan.data import load_factbase
>>> facts = load_factbase()
>>> "production" in facts.tables
True
"""

from reeplan.data.loader import EMBEDDED_DIR, FactBase, load_factbase
from reeplan.data.schemas import SCHEMAS

__all__ = ["EMBEDDED_DIR", "SCHEMAS", "FactBase", "load_factbase"]
