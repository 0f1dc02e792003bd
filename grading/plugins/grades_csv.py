"""`nbgrader export`'s plugin (nbgrader_config.py names it): grades.csv as `make autograde` writes
it, by grading.grader.grades_file (the csv module, no cell a spreadsheet runs, times in the
course's zone, each student's own due date, the course's one total)."""
from nbgrader.coursedir import CourseDirectory
from nbgrader.plugins import CsvExportPlugin

from grading.grader import deadlines, grades_file


class SafeCsvExport(CsvExportPlugin):
    """nbgrader's CSV export, quoted by the csv module, with no cell a spreadsheet runs."""

    def export(self, gradebook):
        destination = self.to or "grades.csv"
        self.log.info("Exporting grades to %s", destination)
        course = deadlines.load(CourseDirectory(config=self.config).root)
        grades_file.write(destination, gradebook, course, [str(s) for s in self.student],
                          [str(a) for a in self.assignment])
