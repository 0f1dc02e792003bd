"""deadlines.toml's late policy as nbgrader's late-penalty plugin, for the stock commands.

`make autograde` writes every late penalty itself (grading.grader.deadlines.apply), after verification.
A stock `nbgrader autograde` run by hand computes the penalty with the plugin that
nbgrader_config.py names (AssignLatePenalties.plugin_class); with nbgrader's default ("none") it
would erase the course's penalties. This plugin gives nbgrader the course's policy instead:
nbgrader passes the seconds after the class's due date (the gradebook's, which `make autograde`
sets from deadlines.toml), and the student's extension is taken off here.
"""
from nbgrader.coursedir import CourseDirectory
from nbgrader.plugins import LateSubmissionPlugin

from grading.grader import deadlines


class CourseLatePenalty(LateSubmissionPlugin):
    """The penalty that grading.grader.deadlines.Policy gives, after the student's own due date."""

    def late_submission_penalty(self, student_id, score, total_seconds_late):
        course = deadlines.load(CourseDirectory(config=self.config).root)
        if course.due is None:
            return None
        extension = (course.due_for(student_id) - course.due).total_seconds()
        penalty = course.policy.penalty(score, total_seconds_late - extension)
        self.log.info("Late penalty of %s (%s s after the class's due date): %s", student_id, total_seconds_late, penalty)
        return penalty or None
