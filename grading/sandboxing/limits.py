"""How much one submission may take of the grading machine, whatever it runs: one value each.

`make autograde` passes these to every part of a submission's grading (grading.grader.pipeline): the
cgroup that holds its kernels and verification workers (grading.sandboxing.cgroups), the deadline and
output budget of nbgrader's run (grading.sandboxing.bounded_execute), the kernel messages the grader
accepts (grading.sandboxing.warm_kernels) and the verification's own deadline (grading.sandboxing.remote).
"""
from dataclasses import dataclass


@dataclass(frozen=True)
class GradingLimits:
    deadline_seconds: float = 300.0       # wall clock for the whole submission: its notebooks and verification
    cell_seconds: float = 0.0             # one cell at most (0: nbgrader_config.py's Execute.timeout)
    output_bytes: int = 4 * 2 ** 20       # outputs a notebook keeps, of every output type
    message_bytes: int = 16 * 2 ** 20     # the largest message from a kernel that the grader reads
    memory_bytes: int = 2 * 2 ** 30       # memory of all the submission's processes together (cgroup)
    max_processes: int = 128              # processes and threads of the submission together (cgroup)
    grace_seconds: float = 30.0           # past the deadline, nbgrader's run is stopped from outside
