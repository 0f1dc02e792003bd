"""`nbgrader collect --update` for a few named students, in one process: what grading on submit
(hub/grade_on_submit.py) runs as the instructor before each grading.

    python -m grading.exchange.collect_students STUDENT [STUDENT ...] [NBGRADER OPTION ...]

Each student's latest submission is collected with the course's checked collect
(grading.exchange.collect.CheckedCollect: owner checked, the exchange's change time, regular files
only), student by student, exactly as `nbgrader collect --update --student=<id> gradient_checking`
would, without starting nbgrader once per student. One student's failure stops no one else's.
"""
import sys

from nbgrader.apps.baseapp import NbGrader
from nbgrader.apps.collectapp import CollectApp
from nbgrader.exchange import ExchangeError

from grading.assignment import ASSIGNMENT
from grading.untrusted_text import for_terminal

CHECKED = "--ExchangeFactory.collect=grading.exchange.collect.CheckedCollect"


class CollectStudents(CollectApp):
    """CollectApp whose extra arguments are students, each collected on their own."""

    name = "nbgrader-collect-students"

    def start(self):
        NbGrader.start(self)
        self.coursedir.assignment_id = ASSIGNMENT
        failed = []
        for student in self.extra_args:
            self.coursedir.student_id = student
            try:
                self.exchange.Collect(coursedir=self.coursedir, authenticator=self.authenticator, parent=self).start()
            except (ExchangeError, OSError, ValueError) as error:
                failed.append(student)
                self.log.error("%s", for_terminal(f"Could not collect {student}'s submission: {error}"))
        if failed:
            self.exit(1)


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    CollectStudents.launch_instance(["--update", CHECKED, *argv])


if __name__ == "__main__":
    main()
