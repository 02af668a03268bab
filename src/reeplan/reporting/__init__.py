"""Reports people read: comparisons of plans (HTML and Excel reports to come)."""

from reeplan.reporting.compare import PlanComparison, compare_plans

__all__ = ["PlanComparison", "compare_plans"]
