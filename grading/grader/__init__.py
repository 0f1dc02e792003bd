"""A grading run, as the grader (the trusted side) runs it: staging the submissions, the pipeline
of one submission, verification, the workers, the ledger, the gradebook, grades, feedback and the
class and similarity reports, the deadlines, the configuration review.
"""
