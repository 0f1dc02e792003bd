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


GRADING = SCRIPT.parent / "bench_grading.py"


def test_bench_grading_smallest_runs():
    """`bench_grading.py` on one submission, ours and the floor in one process each: the table prints (~40 s).
    Every mode, 2 workers included, runs in the full benchmark (`make bench-grading`)."""
    result = subprocess.run([sys.executable, str(GRADING), "--students", "1", "--rounds", "1",
                             "--modes", "ours-1,floor-1"], capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout + result.stderr
    for line in ("ours-1 command", "ours-1 grading", "floor-1", "Goals:", "load average after"):
        assert line in result.stdout, result.stdout


LMS = SCRIPT.parent / "bench_lms.py"


def test_bench_lms_on_a_small_class_prints_its_figures():
    """`bench_lms.py` on 20 students, once: both figures print (the 1,000-student run is `make bench`)."""
    result = subprocess.run([sys.executable, str(LMS), "--students", "20", "--repeats", "1"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    for line in ("similarity, 20 students:", "µs per pair", "export, 20 students: Canvas grades file"):
        assert line in result.stdout, result.stdout


FALSE_FAILURES = SCRIPT.parent / "bench_false_failures.py"


def test_the_hidden_tests_never_fail_correct_code_on_a_sample():
    """`bench_false_failures.py` on 10 runs of each hidden test and 50 networks: no false failure, and the
    table prints (it exits 1 on any). The 1,000-run measurement is `make bench`."""
    result = subprocess.run([sys.executable, str(FALSE_FAILURES), "--runs", "10", "--networks", "50"],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Total false failures: 0" in result.stdout and "eps = 1e-06: gradient_check_n" in result.stdout
    for function in ("gradient_check ", "gradient_check_n ", "backward_propagation_n_fixed "):
        assert function in result.stdout, result.stdout
