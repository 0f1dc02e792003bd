"""The grader runs only on a configuration the instructor has reviewed.

nbgrader executes `nbgrader_config.py` as Python in every process that loads it, the grader's
own included (the gradebook's address, the course id). Anything that can write that file, a
script in a page of the instructor's Jupyter say, could so run code with the grader's rights at
the next `make autograde`, outside every sandbox. So the grader keeps a copy of the configuration
files as they were when last reviewed and refuses to start (before it loads any of them) when one
differs, printing the difference. `deadlines.toml` is reviewed the same way: it is no code, but
it changes grades (a student's extension), and a change must not come from a browser page either.
The instructor reads the difference and accepts it:

    make review-config            # shows the difference, asks; ACCEPT=1 accepts without asking

The copy lives outside the course directory, in the instructor's state folder
($XDG_STATE_HOME or ~/.local/state, then gradient-checking/reviewed-config/), where a Jupyter
server that serves the course (the formgrader, JupyterLab) cannot write: its contents API stays
inside its root. The first run in a course, with nothing recorded yet, records what it finds.
"""
import argparse
import difflib
import hashlib
import json
import os
import sys
from pathlib import Path

from jupyter_core.paths import jupyter_config_path

from grading.assignment import COURSE_ROOT
from grading.untrusted_text import for_terminal

CONFIG_NAMES = ("nbgrader_config.py", "nbgrader_config.json")   # what nbgrader loads from each folder
COURSE_FILES = ("deadlines.toml",)   # the course's own files that change grades (grading/grader/deadlines.py)


class ConfigNotReviewed(Exception):
    """A configuration file changed since it was last reviewed; str() says which and how."""


def config_files(root):
    """The nbgrader configuration files that a command run in the course `root` loads, as
    absolute paths: those of Jupyter's configuration folders, then the course's own."""
    folders = [*jupyter_config_path(), str(root)]
    found = [os.path.join(folder, name) for folder in folders for name in CONFIG_NAMES]
    found += [os.path.join(str(root), name) for name in COURSE_FILES]
    return [path for path in found if os.path.isfile(path)]


def current(root):
    """{path: text} of config_files(root)."""
    return {path: Path(path).read_text(encoding="utf-8", errors="replace") for path in config_files(root)}


def record_path(root):
    """Where the reviewed copy of the course `root`'s configuration is kept."""
    state = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    key = hashlib.sha256(str(Path(root).resolve()).encode()).hexdigest()[:16]
    return state / "gradient-checking" / "reviewed-config" / f"{key}.json"


def reviewed(root):
    """{path: text} as last reviewed, or None if nothing was recorded for this course."""
    try:
        return json.loads(record_path(root).read_text())["files"]
    except FileNotFoundError:
        return None


def record(root, files):
    path = record_path(root)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    scratch = path.with_suffix(".tmp")
    scratch.write_text(json.dumps({"course": str(Path(root).resolve()), "files": files}, indent=1))
    os.replace(scratch, path)


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


def require_reviewed(root):
    """Return quietly if the configuration is as last reviewed; record it on a course's first run
    (and return a sentence saying so); raise ConfigNotReviewed if it changed."""
    now, before = current(root), reviewed(root)
    if before is None:
        record(root, now)
        return (f"First run in this course: its configuration ({', '.join(map(os.path.basename, now))}) "
                f"is recorded as reviewed; a later change must be accepted with `make review-config`.")
    if before != now:
        raise ConfigNotReviewed(
            "The grading configuration changed since it was last reviewed:\n" + difference(before, now)
            + "Nothing was graded: nbgrader runs these files as Python in the grader's own process, so a "
              "change nobody made on purpose (a script in a browser page, say) must not run. Read the "
              "change; if it is yours, accept it with `make review-config`, then run the command again.")
    return ""


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


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m grading.grader.config_review",
        description="Show how the course's nbgrader configuration differs from the one last reviewed; "
                    "with --accept, record it as reviewed.")
    parser.add_argument("--root", default=str(COURSE_ROOT), help="the course directory (default: this one)")
    parser.add_argument("--accept", action="store_true",
                        help="record the configuration as it is now without asking")
    args = parser.parse_args(argv)
    root = Path(args.root).resolve()
    now, before = current(root), reviewed(root)
    if before == now:
        print("The configuration is as last reviewed: " + ", ".join(now))
        return 0
    print(difference(before or {}, now) if before is not None else
          for_terminal("Nothing recorded yet for this course; its configuration is:\n"
                       + "\n".join(now), keep_newlines=True))
    if not args.accept and not (sys.stdin.isatty() and input("Accept it? [y/N] ").strip().lower() in ("y", "yes")):
        print("Not accepted: answer y, or run again with --accept, once you have read it.")
        return 1
    record(root, now)
    print(f"Accepted: recorded in {record_path(root)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
