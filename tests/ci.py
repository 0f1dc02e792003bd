"""What CI provides and a developer's machine may not: skipped there, a failure under CI.

CI (.ci/run, with CI set in the environment) installs every package the tests need and grades as
root, as a grading server does; a test that needs one of those says so with `require`.
"""
import os

import pytest


def require(condition, reason):
    """Skip the test unless `condition`; under CI (the CI variable set), fail it instead."""
    if not condition:
        if os.environ.get("CI"):
            pytest.fail(reason)   # CI provides it: its absence there is an error
        pytest.skip(reason)


def require_root():
    """The sandbox as a root grader (CI's case): root is exempt from the process limit, so the
    sandbox must drop to nobody; only root can try that."""
    require(os.geteuid() == 0, "this test tries the sandbox as a root grader, as CI runs it: run it as root")
