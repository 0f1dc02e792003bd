"""The grading service's queue of submissions, kept on disk so that no restart loses or doubles one.

Grading on submit (hub/grade_on_submit.py, docs/hub.md "Grading on submit") notices each new folder
of the exchange's inbound/ and records it here, one JSON file per submission in a folder only root
can enter, written whole (a temporary file, fsync, rename) before anything is done with it. A
submission's record goes through these states:

    waiting    noticed, not graded yet (at most one per student: a newer one replaces it, in its place)
    grading    its grading started; after a restart, it is graded again from the start (the ledger
               makes a grade already finished cost nothing and change nothing)
    graded     graded, its outcome recorded; the release of its feedback is what remains (after a
               restart, released again: the same pages, written over themselves)
    done       graded; its feedback released (or kept, with automatic release turned off)
    flagged    graded, verification flagged it: its feedback waits for the instructor
    failed     grading could not finish (the grading machine, not the work), said why
    replaced   a newer submission of the same student came before it was graded
    refused    not graded: the exchange's checks refused it, or the student used up their attempts

Rules (`Rules`, from the course's deadlines.toml, table [on_submit]): which submission counts is
the latest; at most one grading per student at a time and one queued behind it; an optional
cool-down between a student's gradings and a limit of gradings per student; a submission that ran
into its time limit sends that student's next one behind everyone else's; release can be turned off.

Standard library only (hub/hubctl.py reads it for `make hub-queue`).
"""
import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from private_copy import plain   # beside this script: text a student chose, fit for a terminal

ACTIVE = ("waiting", "grading", "graded")
FINISHED = ("done", "flagged", "failed")
STATES = (*ACTIVE, *FINISHED, "replaced", "refused")
GRADED = ("grading", "graded", *FINISHED)   # what counts as an attempt
HOUR = 3600


@dataclass
class Rules:
    """[on_submit] of the course's deadlines.toml; every key optional."""
    release: bool = True            # release each grade's feedback to its student at once (flagged ones wait)
    cooldown_minutes: float = 0     # at least this long between the starts of a student's gradings
    max_attempts: int = 0           # at most this many gradings per student (0: no limit)

    @classmethod
    def from_table(cls, table):
        """Rules from a TOML table (a dict); ValueError names a key that is wrong."""
        table = dict(table or {})
        unknown = sorted(set(table) - {f.name for f in fields(cls)})
        if unknown:
            raise ValueError(f"[on_submit] has unknown keys {unknown}; the keys are {[f.name for f in fields(cls)]}")
        rules = cls(**table)
        if not isinstance(rules.release, bool):
            raise ValueError("[on_submit] release must be true or false")
        for name in ("cooldown_minutes", "max_attempts"):
            value = getattr(rules, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ValueError(f"[on_submit] {name} must be a number, 0 or more")
        return rules


@dataclass
class Entry:
    """One submission's record."""
    id: str                       # a hash of its inbound folder's name
    inbound: str                  # its folder's name in inbound/
    student: str
    arrived: float                # when its files last changed in the exchange (trusted: st_ctime), seconds
    seq: int = 0                  # its place in line
    behind: bool = False          # behind everyone else's: the student's last one ran into its time limit
    state: str = "waiting"
    started: float = 0.0          # when its grading (last) started
    finished: float = 0.0
    tries: int = 0                # gradings started (a restart starts it again)
    score: float | None = None
    timed_out: bool = False
    why: str = ""                 # a sentence: why it failed, was refused, replaced or held
    history: list = field(default_factory=list)   # [(time, state)]

    @property
    def latency(self):
        return self.finished - self.arrived if self.finished else None


def entry_id(inbound):
    return hashlib.sha256(inbound.encode("utf-8", "surrogateescape")).hexdigest()[:24]


class Queue:
    """The records in `folder` (made root's and 0700 if missing), loaded at start, each change
    written to disk before the call returns."""

    def __init__(self, folder):
        self.folder = Path(folder)
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.folder, 0o700)
        self.entries = {}
        for path in sorted(self.folder.glob("*.json")):
            try:
                data = json.loads(path.read_text())
                entry = Entry(**data)
            except (ValueError, TypeError) as error:
                raise ValueError(f"the queue's record {path} cannot be read ({error}): move it away to go on") from None
            self.entries[entry.id] = entry

    # ------------------------------------------------------------------ on disk
    def save(self, entry):
        path = self.folder / f"{entry.id}.json"
        scratch = self.folder / f".{entry.id}.tmp"
        fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump(asdict(entry), out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(scratch, path)   # a record is whole or as it was: a rename lost in a power cut
                                    # leaves an older state, which only means grading again

    def move(self, entry, state, why="", now=None):
        entry.state = state
        entry.why = why or entry.why
        entry.history.append((now or time.time(), state))
        if state in FINISHED or state in ("replaced", "refused"):
            entry.finished = now or time.time()
        self.save(entry)

    # ------------------------------------------------------------------ reading it
    def known(self, inbound):
        return entry_id(inbound) in self.entries

    def of(self, student, *states):
        return [e for e in self.entries.values() if e.student == student and (not states or e.state in states)]

    def in_state(self, *states):
        return sorted((e for e in self.entries.values() if e.state in states), key=lambda e: (e.behind, e.seq))

    # ------------------------------------------------------------------ changing it
    def add(self, inbound, student, arrived, rules, now=None, refused=""):
        """Record a new submission; returns its Entry (None if known already). A newer one replaces
        the student's waiting one and takes its place in line."""
        if self.known(inbound):
            return None
        now = now or time.time()
        entry = Entry(id=entry_id(inbound), inbound=inbound, student=student, arrived=arrived, state="new",
                      seq=1 + max((e.seq for e in self.entries.values()), default=0))
        if refused:
            self.entries[entry.id] = entry
            self.move(entry, "refused", refused, now)
            return entry
        attempts = len(self.of(student, *GRADED))
        if rules.max_attempts and attempts >= rules.max_attempts:
            self.entries[entry.id] = entry
            self.move(entry, "refused", f"the limit of {rules.max_attempts} gradings per student is reached; "
                                        "the instructor's collect still takes it", now)
            return entry
        last = max(self.of(student, *GRADED), key=lambda e: e.started, default=None)
        entry.behind = bool(last and last.timed_out)
        for older in self.of(student, "waiting"):
            if older.arrived > arrived:   # found after a newer one: that one counts
                self.entries[entry.id] = entry
                self.move(entry, "replaced", f"a newer submission ({older.inbound}) came before it was graded", now)
                return entry
            entry.seq, entry.behind = older.seq, entry.behind or older.behind   # its place in line
            self.move(older, "replaced", f"a newer submission ({inbound}) came before it was graded", now)
        self.entries[entry.id] = entry
        self.move(entry, "waiting", now=now)
        return entry

    def pick(self, rules, slots, now=None):
        """Up to `slots` waiting submissions to grade next, in line: one per student, none of a
        student whose grading runs, none within a student's cool-down."""
        now = now or time.time()
        busy = {e.student for e in self.in_state("grading", "graded")}
        chosen = []
        for entry in self.in_state("waiting"):
            if len(chosen) >= slots:
                break
            if entry.student in busy:
                continue
            last = max((e.started for e in self.of(entry.student, *GRADED)), default=0)
            if rules.cooldown_minutes and now < last + rules.cooldown_minutes * 60:
                continue
            busy.add(entry.student)
            chosen.append(entry)
        return chosen

    def graded(self, entry, state, why="", score=None, timed_out=False, now=None):
        """Record what grading made of `entry`. One that ran into its time limit sends its
        student's next one, waiting already or yet to come (add), behind everyone else's."""
        entry.score, entry.timed_out = score, timed_out
        if timed_out:
            for waiting in self.of(entry.student, "waiting"):
                waiting.behind = True
                self.save(waiting)
        self.move(entry, state, why, now)

    def start(self, entries, now=None):
        now = now or time.time()
        for entry in entries:
            entry.started, entry.tries = now, entry.tries + 1
            self.move(entry, "grading", now=now)

    # ------------------------------------------------------------------ what the instructor reads
    def status(self, now=None):
        """{state: count}, and the latency (submitted to graded) of the last hour: p50, p95, max, n."""
        now = now or time.time()
        counts = {state: 0 for state in STATES}
        for entry in self.entries.values():
            counts[entry.state] += 1
        recent = sorted(e.latency for e in self.entries.values()
                        if e.state in FINISHED and e.finished >= now - HOUR and e.latency is not None)
        return counts, {"n": len(recent), "p50": percentile(recent, 50), "p95": percentile(recent, 95),
                        "max": recent[-1] if recent else None}


def percentile(values, share):
    """The nearest-rank percentile of sorted `values` (None if empty)."""
    if not values:
        return None
    rank = max(1, -(-share * len(values) // 100))
    return values[int(rank) - 1]


def describe(queue, now=None):
    """The queue as `make hub-queue` prints it (and the instructors' page shows it): the names of
    inbound folders are the students' choice, so every character that is not printable is escaped."""
    counts, latency = queue.status(now)
    lines = ["  ".join(f"{state} {counts[state]}" for state in STATES)]
    if latency["n"]:
        lines.append(f"last hour: {latency['n']} graded, submit to feedback p50 {latency['p50']:.1f} s, "
                     f"p95 {latency['p95']:.1f} s, max {latency['max']:.1f} s")
    else:
        lines.append("last hour: nothing graded")
    for entry in queue.in_state("grading", "graded", "waiting"):
        lines.append(plain(f"  {entry.state:<8} {entry.student}  {entry.inbound}")
                     + ("  (behind: its last ran out of time)" if entry.behind else ""))
    for entry in sorted(queue.entries.values(), key=lambda e: -e.finished)[:20]:
        if entry.state in ("flagged", "failed", "refused"):
            lines.append(plain(f"  {entry.state:<8} {entry.student}  {entry.inbound}: {entry.why}"))
    return "\n".join(lines)
