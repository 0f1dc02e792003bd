"""Benchmark: throughput of grading a class, stock nbgrader against ours and against the floor.

One run on one machine grades the same --students synthetic submissions (default 100) in each mode:

  stock     stock serial `nbgrader autograde gradient_checking` with the course's nbgrader_config.py
            (the sandboxed kernel), through grading.grader.course.autograde
  ours-1    `python -m grading.grader.autograde --root ROOT --workers 1 --quiet` as a subprocess (what
  ours-2    `make autograde` runs: staging, sandboxed autograde with warm kernels, verification
            outside the kernel, feedback, then grades.csv and the class report), with 1 and 2
            worker processes
  floor-1   bare execution with nbclient on the plain python3 kernel, no nbgrader, no sandbox: each
  floor-2   submission's two notebooks in sequence, in a spawned pool of 1 and of 2 worker processes

The class is a fixed, deterministic mix: half the instructor's solution, a fifth correct variants
(catalog.ALTERNATIVES), a fifth mistakes (catalog.MISTAKES, spread over the catalog) and a tenth
broken (a malformed JSON notebook, a missing notebook, a function that raises, the blank release).

The floor runs what nbgrader's kernel runs: the submitted notebooks with their test cells restored
from source/ (hidden tests included, so the kernel imports the instructor package `grading`, as
nbgrader's OverwriteCells does), in a folder that also holds source/'s non-notebook files
(gc_utils.py, payments.csv), as nbgrader's autograde copies them. `--floor-cells submitted` runs
the notebooks exactly as submitted instead (their visible tests only). A notebook that cannot be
read (the malformed one) or is missing is skipped by the floor.

The submissions are graded in --rounds interleaved rounds (default 4): each round takes N/R of
them (dealt kind by kind, so every round has nearly the same mix) and grades them in every mode in turn,
each mode in a fresh course copy (no mode reuses another's gradebook or files), so a change
of the machine's load hits all modes alike and each mode gets R timings. Per mode it prints the
median seconds per submission over rounds, min and max, the throughput (submissions per second
over all N), the ratios to stock and to the floor, and the peak memory per worker process (its own
plus its largest child: kernel or verifier); for ours both the whole command and its grading phase
(reports/autograde_run.json). Goals: ours-2 throughput at least 1.8x stock on 2 cores, and ours-2
at most 25% over floor-2.

CPU: stock's and ours' commands each run in a cgroup of their own (grading.sandboxing.cgroups: cpuacct under
cgroup v1, cpu.stat under v2), so their CPU time counts every process they start, sandboxes
included. It prints the CPU seconds per submission of each, the ratio of ours to stock, and
where ours spends it, from the figures each graded submission records (reports/autograde.json):
the submission's sandboxes (kernels, zygote, verification worker), nbgrader's step, the grading
worker itself, and the rest (the main process, feedback, export and the class report).

Grading must really happen: stock and ours must have every submission in the gradebook, the
correct ones at 100 and the others below; the floor must run every readable notebook, the correct
ones without an error. Otherwise the script exits non-zero. The defaults take about 23
minutes on an idle 2-core machine; run it from the repository root:

    .venv/bin/python benchmarks/bench_grading.py [--students 100] [--rounds 4] [--modes stock,ours-2,floor-2]
"""
import argparse
import json
import multiprocessing
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from grading.grader import course

from synthetic_class import catalog, synthetic
from grading.course_directory import RESULTS_FILE as REPORT
from grading.grader.class_grading import RUN_REPORT
from grading.assignment import ASSIGNMENT, NOTEBOOKS
from grading.course_directory import Course

from cpu import cpu_counted   # benchmarks/cpu.py, next to this script

MODES = ("stock", "ours-1", "ours-2", "floor-1", "floor-2")
NB1 = NOTEBOOKS[0]

# One period of the class mix: 5 correct, 2 mistakes, 2 alternatives, 1 broken. The first four
# cover every kind, so even a tiny run grades a mistake, a broken and an alternative submission.
PATTERN = ("correct", "mistake", "broken", "alternative", "correct",
           "mistake", "correct", "alternative", "correct", "correct")
BROKEN = ("malformed_json", "missing_notebook", "raises", "blank_release")
RAISES = {"backward_propagation_n_fixed":
          "def backward_propagation_n_fixed(X, Y, cache):\n    raise ValueError('boom')\n"}

GOAL_VS_STOCK = 1.8      # ours-2 throughput / stock throughput, on 2 cores
GOAL_OVER_FLOOR = 0.25   # ours-2 seconds / floor-2 seconds - 1


@dataclass
class Student:
    name: str
    kind: str                                  # correct | alternative | mistake | broken
    detail: str                                # the variant or the breakage
    notebooks: dict                            # {file name: NotebookNode} for course.add_submission
    raw: dict = field(default_factory=dict)    # {file name: text} written over them (malformed JSON)

    @property
    def full_marks(self):
        return self.kind in ("correct", "alternative")


def spread(catalog_list, count):
    """`count` entries taken evenly over the whole list (cycling when count exceeds it)."""
    return [catalog_list[(j * len(catalog_list)) // count % len(catalog_list)] for j in range(count)]


def make_class(n):
    """The n synthetic students, always the same for the same n."""
    kinds = [PATTERN[k % len(PATTERN)] for k in range(n)]
    mistakes = iter(spread(catalog.MISTAKES, max(1, kinds.count("mistake"))))
    alternatives = iter(spread(catalog.ALTERNATIVES, max(1, kinds.count("alternative"))))
    broken = (BROKEN[j % len(BROKEN)] for j in range(n))
    students = []
    for k, kind in enumerate(kinds):
        raw = {}
        if kind == "correct":
            detail, notebooks = "solution", synthetic.submission()
        elif kind in ("mistake", "alternative"):
            variant = next(mistakes if kind == "mistake" else alternatives)
            detail, notebooks = variant.name, synthetic.submission({variant.cell: variant.code})
        else:
            detail = next(broken)
            notebooks = synthetic.submission(RAISES if detail == "raises" else None,
                                             complete=detail != "blank_release")
            if detail == "missing_notebook":
                del notebooks[NB1]
            elif detail == "malformed_json":
                raw[NB1] = '{"cells": [oops'
        students.append(Student(f"s{k:03d}_{detail}", kind, detail, notebooks, raw))
    return students


def deal(students, rounds):
    """The students dealt into `rounds` batches kind by kind, back and forth (0..R-1, R-1..0, ...),
    so that every round gets nearly the same mix, and the broken ones differ between rounds."""
    order = sorted(students, key=lambda s: ("correct", "alternative", "mistake", "broken").index(s.kind))
    batches = [[] for _ in range(rounds)]
    for i, student in enumerate(order):
        position = i % rounds
        batches[position if (i // rounds) % 2 == 0 else rounds - 1 - position].append(student)
    return [sorted(batch, key=lambda s: s.name) for batch in batches]


def fresh_course(folder, students, release=True):
    """A fresh course copy at `folder` with these students' submissions in submitted/."""
    root = course.make_course_copy(folder)
    if release:   # the floor needs neither the release nor a gradebook
        course.generate_release(root)
    for student in students:
        submitted = course.add_submission(root, student.name, student.notebooks)
        for name, text in student.raw.items():
            (submitted / name).write_text(text)
    return root


# --- stock and ours: graded by nbgrader, checked in the gradebook ---

def check_gradebook(root, students, mode):
    scores = course.scores(root)
    missing = [s.name for s in students if s.name not in scores]
    totals = {name: sum(row.values()) for name, row in scores.items()}
    wrong = [f"{s.name}={totals[s.name]:g}" for s in students if s.name in totals
             and (totals[s.name] == 100) != s.full_marks]
    if len(scores) != len(students) or missing or wrong:
        raise SystemExit(f"{mode}: grading went wrong in {root}: {len(scores)} of {len(students)} in the gradebook, "
                         f"missing {missing}; correct ones not at 100 or others at 100: {wrong}")


def run_stock(root, students):
    """Seconds and CPU seconds of one stock `nbgrader autograde`. It exits non-zero when a notebook
    is malformed (it gives up on that whole submission): accept that, and only that."""
    started, message = time.perf_counter(), "it succeeded"
    with cpu_counted() as counter:
        try:
            course.autograde(root, prefix=counter["prefix"])
            failed = set()
        except RuntimeError as error:
            failed = set(re.findall(r"error processing assignment '[^']*' for student '([^']+)'", str(error)))
            message = str(error)[-3000:]
    expected = {s.name for s in students if s.detail == "malformed_json"}
    if failed != expected:
        raise SystemExit(f"stock: nbgrader autograde failed on {sorted(failed) or 'the whole run'}, "
                         f"expected only {sorted(expected)}:\n{message}")
    seconds = time.perf_counter() - started
    check_gradebook(root, students, "stock")
    return {"seconds": seconds, "cpu": counter["cpu"]}


def run_ours(root, students, workers):
    """Seconds of `python -m grading.grader.autograde` (what `make autograde` runs), its grading phase,
    and its workers' peak memory, from the run report it writes."""
    command = [sys.executable, "-m", "grading.grader.autograde", "--root", str(root), "--workers", str(workers), "--quiet"]
    started = time.perf_counter()
    with cpu_counted() as counter:
        done = subprocess.run(counter["prefix"] + command, cwd=root, capture_output=True, text=True)
    seconds, cpu = time.perf_counter() - started, counter["cpu"]
    if done.returncode != 0:
        raise SystemExit(f"ours-{workers}: {' '.join(command)} exited {done.returncode}:\n"
                         f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    run = json.loads((root / RUN_REPORT).read_text())
    if run["graded"] != len(students) or run["failed"]:
        raise SystemExit(f"ours-{workers}: graded {run['graded']} of {len(students)}, not graded {run['failed']}")
    check_gradebook(root, students, f"ours-{workers}")
    memory = {worker: (peak["self"], peak["largest_child"]) for worker, peak in run["worker_peak_mb"].items()}
    results = json.loads((root / REPORT).read_text())
    parts = {part: sum(r[key] for r in results) for part, key in CPU_PARTS.items()}
    return {"seconds": seconds, "grading": run["grading_seconds"], "memory": memory, "cpu": cpu, "cpu_parts": parts}


CPU_PARTS = {"sandboxes (kernels, zygote, verification)": "cpu_seconds", "nbgrader's step": "step_cpu_seconds",
             "the grading worker": "grader_cpu_seconds"}


# --- the floor: nbclient on the python3 kernel, in worker processes ---

def test_cells(root):
    """{grade_id: source} of the source notebooks' test cells (hidden tests included)."""
    cells = {}
    for name in NOTEBOOKS:
        for cell in nbformat.read(Course(root).source() / name, as_version=4).cells:
            meta = cell.metadata.get("nbgrader", {})
            if meta.get("grade") and not meta.get("solution"):
                cells[meta["grade_id"]] = cell.source
    return cells


def prepare_floor(root, students, restore_tests):
    """Working folders floor/<student>/: the submitted files (test cells restored from source/
    if restore_tests) and source/'s non-notebook files, as nbgrader's autograde lays them out.
    Done before the clock starts: the floor is execution only."""
    course = Course(root)
    source = course.source()
    tests = test_cells(root) if restore_tests else {}
    folders = []
    for student in students:
        folder = root / "floor" / student.name / ASSIGNMENT
        shutil.copytree(course.submitted(student.name), folder)
        for path in source.iterdir():
            if path.is_file() and path.suffix not in (".ipynb", ".pyc"):
                shutil.copy(path, folder / path.name)
        for path in folder.glob("*.ipynb"):
            try:
                notebook = nbformat.read(path, as_version=4)
            except Exception:      # the malformed notebook stays as it is; the floor skips it
                continue
            for cell in notebook.cells:
                grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
                if grade_id in tests:
                    cell.source = tests[grade_id]
            nbformat.write(notebook, path)
        folders.append(str(folder))
    return folders


def execute_submission(folder):
    """Run one submission's notebooks in sequence, each on a fresh python3 kernel; in a worker."""
    ran, skipped, errors = 0, 0, 0
    for name in NOTEBOOKS:
        try:
            notebook = nbformat.read(Path(folder) / name, as_version=4)
        except Exception:          # missing or not JSON: nothing a kernel could run
            skipped += 1
            continue
        # The kernel's stderr only carries ipykernel's warning about TCP without encryption.
        NotebookClient(notebook, kernel_name="python3", timeout=60, allow_errors=True,
                       resources={"metadata": {"path": folder}}).execute(stderr=subprocess.DEVNULL)
        ran += 1
        errors += sum(o.output_type == "error" for c in notebook.cells for o in c.get("outputs", []))
    return {"folder": folder, "ran": ran, "skipped": skipped, "errors": errors, "pid": os.getpid(),
            "self_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "child_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}


def run_floor(root, students, workers, restore_tests):
    folders = prepare_floor(root, students, restore_tests)
    started = time.perf_counter()
    # The pool's start is timed, as ours times its own pool; spawn, as grading.grader.runners does.
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        runs = list(pool.map(execute_submission, folders))
    seconds = time.perf_counter() - started
    bad = []
    for student, run in zip(students, runs):
        readable = len(NOTEBOOKS) - (student.detail in ("malformed_json", "missing_notebook"))
        if run["ran"] != readable or (student.full_marks and run["errors"]):
            bad.append(f"{student.name}: ran {run['ran']} of {readable} notebooks, {run['errors']} error outputs")
    if bad:
        raise SystemExit(f"floor-{workers}: execution went wrong in {root}:\n  " + "\n  ".join(bad))
    memory = {}
    for run in runs:
        own, child = memory.get(run["pid"], (0.0, 0.0))
        memory[run["pid"]] = (max(own, run["self_mb"]), max(child, run["child_mb"]))
    return {"seconds": seconds, "memory": memory}


# --- the rounds and the table ---

def grade_round(mode, root, students, args):
    if mode == "stock":
        return run_stock(root, students)
    kind, workers = mode.split("-")
    if kind == "ours":
        return run_ours(root, students, int(workers))
    return run_floor(root, students, int(workers), args.floor_cells == "source")


def summary(runs, key, n):
    """(median, min, max seconds per submission over rounds, throughput over all n) of runs' `key`."""
    per_submission = [run[key] / run["size"] for run in runs]
    return (statistics.median(per_submission), min(per_submission), max(per_submission),
            n / sum(run[key] for run in runs))


def peak_memory(runs):
    """Over all rounds and workers: (largest own peak, largest child peak, largest own + child), MiB."""
    pairs = [pair for run in runs for pair in run.get("memory", {}).values()]
    if not pairs:
        return None
    return max(own for own, _ in pairs), max(child for _, child in pairs), max(own + child for own, child in pairs)


def load():
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def print_results(results, n, rounds):
    rows = {}    # label -> (median, min, max, throughput, memory, floor mode to compare with)
    for mode, runs in results.items():
        if mode.startswith("ours"):
            memory, floor = peak_memory(runs), "floor-" + mode.split("-")[1]
            rows[f"{mode} command"] = (*summary(runs, "seconds", n), memory, floor)
            rows[f"{mode} grading"] = (*summary(runs, "grading", n), memory, floor)
        else:
            rows[mode] = (*summary(runs, "seconds", n), peak_memory(runs), None)
    stock = rows.get("stock")
    header = (f"{'mode':<16}{'median s/sub':>13}{'min':>7}{'max':>7}{'sub/s':>8}{'x stock':>9}"
              f"{'vs floor':>10}   peak MiB per worker: own + largest child")
    print(f"\n{n} submissions in {rounds} rounds; seconds per submission over rounds, throughput over all of them")
    print(header + "\n" + "-" * len(header))
    for label, (median, low, high, throughput, memory, floor) in rows.items():
        x_stock = f"{throughput / stock[3]:.2f}" if stock else "-"
        vs_floor = f"{100 * (median / rows[floor][0] - 1):+.0f}%" if floor in rows else "-"
        peak = f"{memory[0]:.0f} + {memory[1]:.0f} = {memory[2]:.0f}" if memory else "-"
        print(f"{label:<16}{median:>13.2f}{low:>7.2f}{high:>7.2f}{throughput:>8.3f}{x_stock:>9}{vs_floor:>10}   {peak}")
    print("(command: the whole `python -m grading.grader.autograde`, export and class report included; "
          "grading: its grading phase only, which is what the floor is compared with)")
    print_cpu(results, n)

    print("\nGoals:")
    if stock and "ours-2 command" in rows:
        ratio = rows["ours-2 command"][3] / stock[3]
        print(f"  ours-2 throughput / stock throughput = {ratio:.2f} (whole command; grading phase "
              f"{rows['ours-2 grading'][3] / stock[3]:.2f}), goal >= {GOAL_VS_STOCK} on 2 cores: "
              + ("met" if ratio >= GOAL_VS_STOCK else "NOT met"))
    else:
        print("  ours-2 vs stock: not measured (--modes)")
    for workers, goal in (("2", GOAL_OVER_FLOOR), ("1", None)):
        ours, floor = f"ours-{workers} grading", f"floor-{workers}"
        if ours in rows and floor in rows:
            over = rows[ours][0] / rows[floor][0] - 1
            whole = rows[f"ours-{workers} command"][0] / rows[floor][0] - 1
            verdict = ("met" if over <= goal else "NOT met") if goal is not None else "for information"
            print(f"  ours-{workers} seconds / floor-{workers} seconds - 1 = {100 * over:+.0f}% (grading phase; "
                  f"whole command {100 * whole:+.0f}%)"
                  + (f", goal <= {100 * goal:.0f}%: " if goal is not None else ": ") + verdict)
        else:
            print(f"  ours-{workers} vs floor-{workers}: not measured (--modes)")


def print_cpu(results, n):
    """CPU seconds per submission of stock's and ours' whole commands, and where ours spends it."""
    cpu = {mode: [run["cpu"] / run["size"] for run in runs if run.get("cpu") is not None]
           for mode, runs in results.items() if mode == "stock" or mode.startswith("ours")}
    cpu = {mode: values for mode, values in cpu.items() if values}
    if not cpu:
        print("\nCPU: not counted (no writable cgroup with CPU accounting here)")
        return
    print("\nCPU seconds per submission, each whole command in a cgroup of its own (median over rounds):")
    stock = statistics.median(cpu["stock"]) if "stock" in cpu else None
    for mode, values in cpu.items():
        median = statistics.median(values)
        print(f"  {mode:<8} {median:6.2f}" + (f"   {median / stock:.2f} x stock" if stock and mode != "stock" else ""))
    for mode, runs in results.items():
        if not mode.startswith("ours") or mode not in cpu:
            continue
        total = sum(run["cpu"] for run in runs)
        parts = {part: sum(run["cpu_parts"][part] for run in runs) for part in CPU_PARTS}
        parts["the rest: main process, feedback, export, report, starting workers"] = total - sum(parts.values())
        print(f"  where {mode} spends it (CPU seconds per submission, share):")
        for part, seconds in parts.items():
            print(f"    {part:<70} {seconds / n:6.2f}  {100 * seconds / total:4.0f}%")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=100, help="submissions in all (default 100)")
    parser.add_argument("--rounds", type=int, default=4, help="interleaved rounds (default 4)")
    parser.add_argument("--modes", default=",".join(MODES), help=f"comma list of {', '.join(MODES)} (default all)")
    parser.add_argument("--floor-cells", choices=("source", "submitted"), default="source",
                        help="floor runs the test cells restored from source/ (default) or as submitted")
    args = parser.parse_args(argv)
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if not modes or set(modes) - set(MODES):
        parser.error(f"--modes: choose from {', '.join(MODES)}")
    if not 1 <= args.rounds <= args.students:
        parser.error("need 1 <= --rounds <= --students")
    # nbgrader calls `alembic` by name; each throwaway course grades into its own SQLite file.
    os.environ["PATH"] = str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")
    os.environ.pop("GRADEBOOK_URL", None)

    students = make_class(args.students)
    kinds = {kind: sum(s.kind == kind for s in students) for kind in ("correct", "alternative", "mistake", "broken")}
    print(f"machine: {os.cpu_count()} CPUs ({len(os.sched_getaffinity(0))} usable), Python {sys.version.split()[0]}")
    print(f"load average before: {load()}")
    print(f"{args.students} submissions ({', '.join(f'{v} {k}' for k, v in kinds.items())}), "
          f"{args.rounds} rounds, modes {', '.join(modes)}", flush=True)
    rounds = deal(students, args.rounds)
    if min(len(batch) for batch in rounds) < 2 and {"ours-2", "floor-2"} & set(modes):
        print("note: a round of one submission keeps the second worker of ours-2 and floor-2 idle")
    results = {mode: [] for mode in modes}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench_grading_") as parent:
        for r in range(args.rounds):
            batch = rounds[r]
            for mode in modes:
                root = fresh_course(Path(parent) / f"{mode}-r{r}", batch, release=not mode.startswith("floor"))
                run = grade_round(mode, root, batch, args)
                run["size"] = len(batch)
                results[mode].append(run)
                phase = f" (grading {run['grading'] / len(batch):.2f})" if "grading" in run else ""
                print(f"  round {r + 1}/{args.rounds} {mode:<8} {len(batch):>3} submissions {run['seconds']:7.1f} s, "
                      f"{run['seconds'] / len(batch):6.2f} s per submission{phase}", flush=True)
                shutil.rmtree(root)   # keep the disk small: 100 graded submissions per mode add up
    print(f"load average after: {load()}; the benchmark took {time.perf_counter() - started:.0f} s")
    print_results(results, args.students, args.rounds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
