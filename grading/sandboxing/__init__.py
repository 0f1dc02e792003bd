"""What the grader builds its sandboxes with: bubblewrap command lines, the seccomp filter, cgroups,
the per-submission limits, reading what a sandbox made without following a link, the kernels and
their launcher, nbgrader's own steps in a sandbox, and the client of the verification worker.
The code that runs inside these sandboxes is in grading/inside/.
"""
