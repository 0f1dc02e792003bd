"""`make review-config`: the instructor reads how the grading configuration changed since it was
last reviewed, and accepts it.

    python -m grading.grader.config_review [--root COURSE] [--accept] [--record-helpers]

    make review-config            # shows the difference, asks; ACCEPT=1 accepts without asking
    echo y | make review-config   # the answer from a pipe or a file: no terminal needed

The files reviewed are the nbgrader configuration that a command run in the course loads,
deadlines.toml and the helpers of source/ the grader loads; why, and where the reviewed copy is
kept, is grading.grader.reviewed_config (this is the command only). --record-helpers records the
helpers alone, as they are now (`make release`: the instructor who releases them has read them).

Exit status: 0 when the files are as reviewed or accepted, 1 when not accepted.
"""
import argparse
import os
import sys

from grading.command_line import course_argument, course_of
from grading.grader.reviewed_config import (current, difference, first_sight, helper_files, record, record_helpers,
                                            record_path, saved)
from grading.untrusted_text import for_terminal


def answer(question):
    """The first line of the answer to `question`, lower-cased: typed on a terminal, or read from
    whatever stdin is (`echo y | make review-config`); "" at the end of the input (no answer)."""
    print(question, end="", flush=True)
    if sys.stdin is None:   # no stdin at all
        print()
        return ""
    line = sys.stdin.readline().strip()
    if not sys.stdin.isatty():
        print(for_terminal(line))   # what was answered, where no terminal showed it
    return line.lower()


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m grading.grader.config_review",
        description="Show how the course's nbgrader configuration differs from the one last reviewed; "
                    "with --accept, record it as reviewed.")
    course_argument(parser)
    parser.add_argument("--accept", action="store_true",
                        help="record the configuration as it is now without asking")
    parser.add_argument("--record-helpers", action="store_true",
                        help="record the helpers of source/ as reviewed, and only them (make release)")
    args = parser.parse_args(argv)
    root = course_of(args).root
    if args.record_helpers:
        changed = record_helpers(root)
        print(for_terminal(f"Recorded as reviewed (make release): {', '.join(map(os.path.basename, helper_files()))}"
                           + "".join(f"\n  changed since last recorded: {path} (-{old} +{new} lines)"
                                     for path, (old, new) in changed.items()), keep_newlines=True))
        return 0
    now, kept = current(root), saved(root)
    before = None
    if kept is not None:
        before, note = first_sight(root, kept)
        if note:
            print(note)
    if before == now:
        print("The configuration is as last reviewed: " + ", ".join(now))
        return 0
    print(difference(before or {}, now) if before is not None else
          for_terminal("Nothing recorded yet for this course; its configuration is:\n"
                       + "\n".join(now), keep_newlines=True))
    if not args.accept and answer("Accept it? [y/N] ") not in ("y", "yes"):
        print("Not accepted: answer y, or run again with --accept, once you have read it.")
        return 1
    record(root, now)
    print(f"Accepted: recorded in {record_path(root)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
