"""What grades: the hidden tests of every function, their random cases, the numerics and the
diagnoses that turn a wrong number into a sentence, the reference solutions. Pure functions of a
student's values; no file, process or gradebook. Never visible to a kernel under `make autograde`.
"""
