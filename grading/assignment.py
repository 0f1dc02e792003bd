"""The assignment's name: what every part of the grading agrees on, with no side effect on import.

(grading.provided loads the helper module as it is imported; code that runs where the course's
source/ is not visible, such as nbgrader's sandboxed steps, takes the name from here.)
"""
ASSIGNMENT = "gradient_checking"
