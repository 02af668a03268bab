"""The roadmap planner: least-cost build plans on linopy, solved by HiGHS.

Needs the ``plan`` extra (linopy, highspy, xarray).
"""

from reeplan.optimize.model import build_model
from reeplan.optimize.plan import Plan, SolveStatus, solve, solve_myopic
from reeplan.optimize.problem import Candidate, Partner, Problem, Target

__all__ = ["Candidate", "Partner", "Plan", "Problem", "SolveStatus", "Target",
           "build_model", "solve", "solve_myopic"]
