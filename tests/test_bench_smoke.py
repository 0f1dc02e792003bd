"""`benchmarks/bench_notebooks.py --quick` runs start to finish and prints both tables (~25 s idle)."""
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_notebooks.py"


def test_bench_quick_prints_both_tables():
    result = subprocess.run([sys.executable, str(SCRIPT), "--quick"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    for heading in ("Notebook run-all time", "Autograde time", "per submission / floor"):
        assert heading in result.stdout, result.stdout
