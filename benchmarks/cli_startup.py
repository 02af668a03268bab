"""Start-up cost of the CLI, as a ratio to a bare interpreter measured in the same run.

Run: ``python benchmarks/cli_startup.py`` (not part of the test suite). Prints the median
wall time of ``reeplan --help``, of ``python -c pass`` and of ``python -c "import pandas"``,
and the ratios, and writes them to ``benchmarks/results/cli_startup.json``.
"""

from __future__ import annotations

import json
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPEATS = 15


def _median_seconds(cmd: list[str]) -> float:
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    bare = _median_seconds([sys.executable, "-c", "pass"])
    pandas = _median_seconds([sys.executable, "-c", "import pandas"])
    help_ = _median_seconds([sys.executable, "-m", "reeplan", "--help"])
    result = {
        "python": platform.python_version(),
        "repeats": REPEATS,
        "bare_interpreter_s": round(bare, 4),
        "import_pandas_s": round(pandas, 4),
        "reeplan_help_s": round(help_, 4),
        "help_over_bare": round(help_ / bare, 2),
        "help_over_import_pandas": round(help_ / pandas, 2),
    }
    out = Path(__file__).parent / "results" / "cli_startup.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
