"""The LMS's files: a Canvas or Moodle download and roster in (intake), grades and feedback out
(export, release through nbgrader's exchange).
"""
