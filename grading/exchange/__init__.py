"""nbgrader's exchange, where the course meets what students wrote: a trust boundary.

On a hub every student can write into the exchange's `inbound/` folder, under any name, and
change what they put there at any time; their own nbgrader client writes the submission's name
and its `timestamp.txt`. Stock nbgrader 0.9 takes all of it on the client's word: the submission
time, whose submission it is (a wrong owner only earns a warning), and what a link in it points
at (collect copies with shutil.copytree as the instructor, so a link reads the instructor's
files). On the way out, `nbgrader release_feedback` releases every `*.html` of a feedback folder
and stops for the whole class at the first student whose files it cannot read.

Here the instructor's side of the exchange is replaced, class by class (nbgrader's
ExchangeFactory, set in the course's and the hub's instructors' configuration):

    inbound.py            one inbound folder read by descriptors: its owner, its latest change
                          time (st_ctime, which no student can set back), its regular files
    collect.py            CheckedCollect: whose (owner checked, others quarantined), when (the
                          change time becomes nbgrader's timestamp.txt), what (regular files only)
    release_feedback.py   CheckedReleaseFeedback: only the pages nbgrader rendered of the
                          assignment's notebooks, student by student

The students' side (fetch, submit, fetch feedback) stays stock nbgrader: a student's server never
needs this package, and nothing here trusts what it writes.
"""
