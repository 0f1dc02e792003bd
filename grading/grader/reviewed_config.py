"""The grader runs only on a configuration the instructor has reviewed.

nbgrader executes `nbgrader_config.py` as Python in every process that loads it, the grader's
own included (the gradebook's address, the course id). Anything that can write that file, a
script in a page of the instructor's Jupyter say, could so run code with the grader's rights at
the next `make autograde`, outside every sandbox. So the grader keeps a copy of the configuration
files as they were when last reviewed and refuses to start (before it loads any of them) when one
differs, printing the difference. `deadlines.toml` is reviewed the same way: it is no code, but
it changes grades (a student's extension), and a change must not come from a browser page either.
The students' helpers that the grader loads from source/ (gc_utils.py, gc_feedback.py and the
gc_feedback_cases.json it reads: grading/checks/provided.py) run in the grader's processes too,
so they are reviewed the same way; `make release` records them, since the instructor who
releases them has read them. The instructor reads a difference and accepts it with `make
review-config` (grading.grader.config_review, the command). While they differ, make autograde,
make intake, make settings and the class report refuse with exit status 3 (refusal_status), make
export with 2.

The copy lives outside the course directory, in the instructor's state folder
($XDG_STATE_HOME or ~/.local/state, then gradient-checking/reviewed-config/), where a Jupyter
server that serves the course (the formgrader, JupyterLab) cannot write: its contents API stays
inside its root. The first run in a course, with nothing recorded yet, records what it finds; so
does the first run that meets a kind of file (the configuration, the helpers) never recorded.

`make hub-autograde` grades a private copy of the instructor's course on the hub (hub/hubctl.py):
$GRADING_REVIEWED_AS then names that course, whose record is used and whose paths are shown, and
nothing is recorded at a first run (`make hub` recorded the course when it made it).
"""
import difflib
import hashlib
import json
import os
import sys
from pathlib import Path

from jupyter_core.paths import jupyter_config_path

from grading.assignment import HELPERS_PATH
from grading.untrusted_text import for_terminal

CONFIG_NAMES = ("nbgrader_config.py", "nbgrader_config.json")   # what nbgrader loads from each folder
COURSE_FILES = ("deadlines.toml",)   # the course's own files that change grades (grading/grader/deadlines.py)
# What the grader runs or reads from the folder of HELPERS_PATH (source/<assignment>/).
HELPER_NAMES = ("gc_utils.py", "gc_feedback.py", "gc_feedback_cases.json")
GROUPS = ("configuration", "helpers")
# Set by make hub-autograde and make hub-review-config (hub/hubctl.py), which work on a private copy
# of the instructor's course: the course whose record counts and whose paths are shown.
REVIEWED_AS = "GRADING_REVIEWED_AS"


class ConfigNotReviewed(Exception):
    """A configuration file changed since it was last reviewed; str() says which and how."""


def reviewed_as():
    return os.environ.get(REVIEWED_AS) or None


def accept_command():
    return "make hub-review-config" if reviewed_as() else "make review-config"


def config_files(root):
    """The nbgrader configuration files that a command run in the course `root` loads, as
    absolute paths: those of Jupyter's configuration folders, then the course's own."""
    folders = [*jupyter_config_path(), str(root)]
    found = [os.path.join(folder, name) for folder in folders for name in CONFIG_NAMES]
    found += [os.path.join(str(root), name) for name in COURSE_FILES]
    return [path for path in found if os.path.isfile(path)]


def helper_files():
    """The helpers the grader loads (grading/checks/provided.py), as absolute paths."""
    return [path for path in (str(HELPERS_PATH.with_name(name)) for name in HELPER_NAMES) if os.path.isfile(path)]


def shown(root, path):
    """The name a file of `root` is recorded and shown by: under $GRADING_REVIEWED_AS when set."""
    course = reviewed_as()
    if not course:
        return path
    relative = os.path.relpath(os.path.realpath(path), os.path.realpath(root))
    return path if relative == ".." or relative.startswith(".." + os.sep) else os.path.join(course, relative)


def current(root, groups=GROUPS):
    """{path: text} of the files of `groups` ("configuration": config_files(root), "helpers":
    helper_files()), each under the name shown() gives it."""
    paths = (config_files(root) if "configuration" in groups else []) + (helper_files() if "helpers" in groups else [])
    return {shown(root, path): Path(path).read_text(encoding="utf-8", errors="replace") for path in paths}


def course_key(root):
    return reviewed_as() or str(Path(root).resolve())


def record_path(root):
    """Where the reviewed copy of the course `root`'s configuration is kept."""
    state = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    key = hashlib.sha256(course_key(root).encode()).hexdigest()[:16]
    return state / "gradient-checking" / "reviewed-config" / f"{key}.json"


def saved(root):
    """The record of the course `root`: {"files": {path: text}, "groups": {group: [path]}}, or None.
    A record made before the helpers were reviewed holds the configuration only."""
    try:
        kept = json.loads(record_path(root).read_text())
    except FileNotFoundError:
        return None
    kept.setdefault("groups", {"configuration": list(kept["files"])})
    return kept


def reviewed(root):
    """{path: text} as last reviewed, or None if nothing was recorded for this course."""
    kept = saved(root)
    return None if kept is None else kept["files"]


def record(root, files, groups=None):
    """Keep `files` ({path: text}) as reviewed; `groups` ({group: [path]}) says which kind each is
    (by default, those of current(root))."""
    if groups is None:
        groups = {group: [path for path in current(root, (group,)) if path in files] for group in GROUPS}
    path = record_path(root)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    scratch = path.with_suffix(".tmp")
    scratch.write_text(json.dumps({"course": course_key(root), "files": files, "groups": groups}, indent=1))
    os.replace(scratch, path)


def record_helpers(root):
    """Record the helpers as they are now (make release), the configuration's record kept as it
    is; return {path: (lines removed, lines added)} of the helpers that changed since last recorded."""
    kept = saved(root) or {"files": {}, "groups": {}}
    before = {path: kept["files"][path] for path in kept["groups"].get("helpers", ())}
    now = current(root, ("helpers",))
    files = {path: text for path, text in kept["files"].items() if path not in before}
    groups = {**kept["groups"], "helpers": list(now)}
    record(root, {**files, **now}, groups)
    return {path: line_counts(before.get(path), now.get(path)) for path in sorted(set(before) | set(now))
            if path in before and before.get(path) != now.get(path)}


def line_counts(old, new):
    """(lines removed, lines added) from `old` to `new`."""
    lines = list(difflib.unified_diff((old or "").splitlines(), (new or "").splitlines(), n=0, lineterm=""))[2:]
    return (sum(line.startswith("-") for line in lines), sum(line.startswith("+") for line in lines))


def difference(before, after):
    """A unified diff of two {path: text}, for a terminal (every control character escaped)."""
    lines = []
    for path in sorted(set(before) | set(after)):
        old, new = before.get(path), after.get(path)
        if old == new:
            continue
        lines.extend(difflib.unified_diff(
            (old or "").splitlines(keepends=True), (new or "").splitlines(keepends=True),
            fromfile=f"{path} (reviewed)" if old is not None else "/dev/null",
            tofile=f"{path} (now)" if new is not None else "/dev/null (removed)"))
    return for_terminal("".join(line if line.endswith("\n") else line + "\n" for line in lines),
                        keep_newlines=True)


def first_sight(root, kept):
    """(the files as reviewed, a note): a kind of file that the course's record never held (a record
    made before the helpers were reviewed) is recorded as it is now, as at a course's first run;
    not for a copy graded on behalf of a course, whose record must hold everything."""
    unseen = [group for group in GROUPS if group not in kept["groups"]]
    if not unseen or reviewed_as():
        return kept["files"], ""
    first = current(root, unseen)
    before = {**kept["files"], **first}
    record(root, before, {**kept["groups"], **{group: [path for path in current(root, (group,))] for group in unseen}})
    return before, (f"First run in this course with its {' and '.join(unseen)} reviewed: "
                    f"{', '.join(map(os.path.basename, first)) or 'none found'} recorded as they are; a "
                    f"later change must be accepted with `make review-config`.")


def require_reviewed(root):
    """Return quietly if the configuration and the helpers are as last reviewed; record them on a
    course's first run, or a kind of them never recorded before (and return a sentence saying so);
    raise ConfigNotReviewed if they changed. For a copy graded on behalf of a course
    ($GRADING_REVIEWED_AS), nothing is recorded: a course with no record is refused."""
    now, kept = current(root), saved(root)
    if kept is None and reviewed_as():
        raise ConfigNotReviewed(
            f"Nothing is recorded as reviewed for the course {for_terminal(reviewed_as())}: nothing was graded. "
            f"Read its configuration and helpers ({', '.join(map(os.path.basename, now))}) and accept "
            f"them with `{accept_command()}`, then run the command again.")
    if kept is None:
        record(root, now)
        return (f"First run in this course: its configuration and helpers "
                f"({', '.join(map(os.path.basename, now))}) are recorded as reviewed; a later change "
                f"must be accepted with `make review-config` (or, for the helpers, `make release`).")
    before, note = first_sight(root, kept)
    if before != now:
        raise ConfigNotReviewed(
            "The grading configuration changed since it was last reviewed:\n" + difference(before, now)
            + "Nothing was graded: nbgrader runs these files as Python in the grader's own process (and "
              "the grader imports the helpers of source/), so a change nobody made on purpose (a script "
              "in a browser page, say) must not run. Read the change; if it is yours, accept it with "
              f"`{accept_command()}`, then run the command again.")
    return note


def refusal_status(root):
    """For a command's main: None if the configuration is as reviewed (printing the first-run note),
    else 3 after printing the refusal to stderr."""
    try:
        note = require_reviewed(root)
    except ConfigNotReviewed as refusal:
        print(refusal, file=sys.stderr)
        return 3
    if note:
        print(note)
    return None
