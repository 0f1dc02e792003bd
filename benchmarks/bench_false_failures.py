"""Benchmark: how often the hidden tests fail correct code. The goal is never.

hidden tests   each hidden test (grading.CHECKS) runs --runs times, on fresh random cases every
               time, against the correct ways to write its function in turn: the reference
               solution and the catalog's correct alternatives (synthetic_class.catalog.ALTERNATIVES),
               each in an emulated notebook (the setup's names, then the solution cells). A
               failure, or a warning (nbgrader fails a test cell that writes to stderr), is a
               false failure: its message is printed and the exit status is 1.
the step       the figure behind notebook 2's default epsilon: on --networks random networks drawn
               like the seed-1 case (3 payments, standard normal parameters, no filtering), how
               often the reference gradient_check_n and gradient_check_by_parameter call the
               *correct* gradients wrong (a difference not below 2e-7), at eps = 1e-7 and 1e-6.

    .venv/bin/python benchmarks/bench_false_failures.py [--runs 1000] [--networks 1000]
"""
import argparse
import contextlib
import io
import sys
import time
import warnings
from collections import Counter

import numpy as np

from grading.checks import reference

from synthetic_class import catalog, synthetic
from grading.checks.harness import NotebookStudent
from grading.checks.hidden_tests import lost_parts
from grading.checks.provided import gc_utils

FUNCTIONS = catalog.FUNCTIONS_1D + catalog.FUNCTIONS_ND
THRESHOLD = 2e-7


def notebook_namespace(function, code=None):
    """The namespace a notebook gives `function`'s hidden tests: the setup's names (and in notebook
    2 the seed-1 case its earlier cells load), then every solution cell, `code` replacing the
    function's own."""
    solutions = synthetic.solutions()
    cells = catalog.FUNCTIONS_1D if function in catalog.FUNCTIONS_1D else catalog.FUNCTIONS_ND
    namespace = {"__name__": "__main__", "np": np}
    if cells is catalog.FUNCTIONS_ND:
        namespace.update({name: value for name, value in vars(gc_utils).items() if not name.startswith("_")})
        namespace.update(zip(("X", "Y", "parameters"), gc_utils.seed1_case()))
    for cell in cells:
        source = code if cell == function and code is not None else solutions[cell]
        exec(compile(source, cell, "exec"), namespace)
    return namespace


def correct_versions(function):
    """[(label, namespace)]: the reference solution and each correct alternative of `function`."""
    versions = [("reference", notebook_namespace(function))]
    versions += [(v.name, notebook_namespace(function, v.code)) for v in catalog.ALTERNATIVES if v.cell == function]
    return versions


def false_failure(function, namespace):
    """The message of a false failure of `function`'s hidden tests on fresh cases (a part's points
    lost counts as one too), or None."""
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            lost = lost_parts(function, NotebookStudent(namespace))
        except Exception as error:   # a test cell fails on any exception
            return f"{type(error).__name__}: {error}"
    if lost:
        return f"partial credit: {lost}"
    shown = [w for w in caught if not issubclass(w.category, (DeprecationWarning, PendingDeprecationWarning))]
    return f"warning {shown[0].category.__name__}: {shown[0].message}" if shown else None


def measure_hidden_tests(runs):
    """{function: (runs, failures, seconds, versions, [messages])}"""
    table = {}
    for function in FUNCTIONS:
        versions = correct_versions(function)
        failures, messages = 0, []
        started = time.perf_counter()
        for run in range(runs):
            label, namespace = versions[run % len(versions)]   # every correct version in turn
            message = false_failure(function, namespace)
            if message:
                failures += 1
                messages.append(f"{label}: {message[:300]}")
        table[function] = (runs, failures, time.perf_counter() - started, len(versions), messages)
    return table


def measure_step(networks, seed=0):
    """{eps: Counter(whole=..., block=...)}: correct gradients called wrong on random networks."""
    rng = np.random.default_rng(seed)
    found = {1e-7: Counter(), 1e-6: Counter()}
    with np.errstate(all="ignore"):
        for _ in range(networks):
            X, Y = rng.standard_normal((4, 3)), np.array([[1, 1, 0]])
            parameters = {name: rng.standard_normal(shape) for name, shape in gc_utils.PARAMETER_SHAPES.items()}
            _, cache = gc_utils.forward_propagation_n(X, Y, parameters)
            fixed = reference.backward_propagation_n_fixed(X, Y, cache)
            for eps, count in found.items():
                count["whole"] += not reference.gradient_check_n(parameters, fixed, X, Y, epsilon=eps) < THRESHOLD
                blocks = reference.gradient_check_by_parameter(parameters, fixed, X, Y, epsilon=eps)
                count["block"] += not max(blocks.values()) < THRESHOLD
    return found


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000, help="runs of each hidden test (default 1000)")
    parser.add_argument("--networks", type=int, default=1000, help="random networks for the step (default 1000)")
    args = parser.parse_args(argv)

    table = measure_hidden_tests(args.runs)
    print(f"False failures of the hidden tests on correct code, {args.runs} runs each (fresh random cases every run)")
    print(f"{'hidden test':<30}{'versions':>9}{'runs':>7}{'false failures':>16}{'rate':>8}{'ms/run':>9}")
    for function, (runs, failures, seconds, versions, _) in table.items():
        print(f"{function:<30}{versions:>9}{runs:>7}{failures:>16}{failures / runs:>8.1%}{1000 * seconds / runs:>9.1f}")
    total = sum(row[1] for row in table.values())
    for function, row in table.items():
        for message in row[4][:5]:
            print(f"  {function}: {message}")
    print(f"Total false failures: {total}")

    if args.networks:
        print(f"\nThe step: correct gradients called wrong (not below {THRESHOLD:g}) on {args.networks} random "
              "seed-1-like networks")
        for eps, count in measure_step(args.networks).items():
            print(f"  eps = {eps:g}: gradient_check_n {count['whole'] / args.networks:.1%}, "
                  f"some block of gradient_check_by_parameter {count['block'] / args.networks:.1%}")
    return 1 if total else 0


if __name__ == "__main__":
    sys.exit(main())
