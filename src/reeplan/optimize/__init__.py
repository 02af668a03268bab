"""The roadmap planner: least-cost build plans, assembled as a matrix and solved by HiGHS.

Needs the ``plan`` extra (highspy, xarray).
"""

from reeplan.optimize.highs import SolveError, SolveStatus
from reeplan.optimize.model import build_model
from reeplan.optimize.params import build_parameters, delayed
from reeplan.optimize.problem import Candidate, Partner, Problem, Target
from reeplan.optimize.solve import (
    Evaluation,
    Evaluator,
    Plan,
    Provenance,
    solve,
    solve_myopic,
)

__all__ = ["Candidate", "Evaluation", "Evaluator", "Partner", "Plan", "Problem", "Provenance",
           "SolveError", "SolveStatus", "Target", "build_model", "build_parameters", "delayed",
           "solve", "solve_myopic"]
