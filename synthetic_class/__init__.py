"""A synthetic class: the tests' and the demo's students, never part of the grader.

- catalog.py: the mistake catalog (common mistakes and correct variants of every function);
- attacks.py: the attack catalog (submissions that try to game or break the grading);
- synthetic.py: whole submissions built from the source notebooks' solutions, with cells replaced;
- demo.py: `make demo`, a small class graded in a course folder of its own (demo/).

Outside the grading package on purpose: no student's kernel is shown it, and changing it does not
change the grader's fingerprint (grading.grader.ledger).
"""
