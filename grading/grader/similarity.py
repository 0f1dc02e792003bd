"""The similarity report: pairs of submissions whose answers are suspiciously alike.

    python -m grading.grader.similarity [--root COURSE] [--threshold 0.75]      # exit status 0

`make autograde` writes it after each run (SIMILARITY= for its threshold); this command writes it
again, say with another threshold. This is the command only: how answers are compared, and the
page, are grading.grader.similarity_report.
"""
import argparse
import sys

from grading.command_line import course_argument, course_of
from grading.grader.similarity_report import THRESHOLD, write


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m grading.grader.similarity", description=__doc__.splitlines()[0])
    course_argument(parser)
    parser.add_argument("--threshold", type=float, default=THRESHOLD,
                        help=f"the similarity from which a pair is listed (default {THRESHOLD})")
    args = parser.parse_args(argv)
    path, pairs = write(course_of(args), args.threshold)
    print(f"Similarity report: {path} ({len(pairs)} pairs at or above {args.threshold:.0%})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
