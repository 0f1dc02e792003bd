"""Grading on submit: a JupyterHub-managed service that grades each submission as it arrives and
releases its feedback to its student, with no instructor action (docs/hub.md, "Grading on submit").

    .venv/bin/python hub/grade_on_submit.py        (as root; the hub starts it: make hub GRADE_ON_SUBMIT=1)

Every POLL_SECONDS it looks at the exchange's inbound/ folder of the course and records each new
submission in its queue (hub/submit_queue.py: root's, on disk, under <HUB_HOME>/private/), read
with the exchange's checks (grading.exchange.inbound: the owner must be the student the folder
names; its time is when its files last changed there). Then, a batch at a time, one submission
per student:

1. the instructor's side collects those students' latest submissions into the course, as the
   instructor, with the course's checked collect (grading.exchange.collect_students);
2. root grades them as `make hub-autograde` does (hub/hubctl.py, hub/private_copy.py): the course
   comes in through the strict filter into root's private copy, the course's pipeline grades it
   there (sandbox, verification, deadlines and late policy, ledger, gradebook: only what is new or
   changed is graded), and the results go back into the course, written as the instructor. The
   grading run stays up between batches (KeptRun: autograde --serve), so its start (imports,
   worker processes, their sandboxed nbgrader) is paid once, not once a batch; the class report
   and similarity (the whole class's) are left to a run once no batch came for VIEWS_AFTER_SECONDS;
3. each grade's feedback is released to its student alone (grading.lms.release_feedback
   --student, as the instructor: the checked release), unless verification flagged it: that one
   waits for the instructor's `make hub-release-feedback RELEASE_FLAGGED=1`.

The instructor's side of 1. and 3. stays up between batches too (KeptInstructor:
grading.lms.instructor_service, as the instructor), so Python and nbgrader start once, not twice a batch;
root takes what it answers as the output of those programs, and no further.

Each step's outcome is on disk before the next starts, so SIGTERM, SIGKILL or a reboot loses
nothing: on restart what was being graded is graded again (the ledger makes a finished grade cost
nothing and change nothing) and what was graded but not released is released. A student's bad
submission is their own row's outcome; the machine's troubles (the course's configuration not
reviewed, the gradebook saved in the formgrader meanwhile, another make hub-autograde running)
leave the batch where it is, to be tried again.
"""
import csv
import json
import os
import select
import signal
import subprocess
import sys
import time
import tomllib
import traceback
from concurrent.futures import ThreadPoolExecutor

import hubctl            # beside this script
import private_copy
import submit_queue
from grading.exchange import inbound      # the course's .venv runs this service, as root
from grading.grader import autograde, deadlines

POLL_SECONDS = 1.0
SETTLE_SECONDS = 1.0     # a folder whose files changed more recently is still being submitted
RETRY_SECONDS = 15.0     # after the machine said "not now"
BATCH_PER_WORKER = 4     # a batch takes every waiting student, up to this many per worker: the
                         # collect, the copy in and out and the release cost the same for any batch
VIEWS_AFTER_SECONDS = 20.0   # no batch for this long: the class report and similarity are written
MAX_TRIES = 3            # a submission whose grading broke the service this often is given up (failed)
QUEUE = "grade-on-submit"


def say(*words):
    print("grade-on-submit:", *words, flush=True)


class NotNow(Exception):
    """The batch cannot be graded now (the machine's reason, not the students'); str() says why."""


# ---------------------------------------------------------------- the loop

class Service:
    """The queue's loop, over a backend that finds, grades and releases (HubBackend on a hub; the
    tests give it one of their own)."""

    def __init__(self, queue, backend, slots, poll=POLL_SECONDS, retry=RETRY_SECONDS, views_after=VIEWS_AFTER_SECONDS):
        self.queue, self.backend, self.slots, self.poll, self.retry = queue, backend, max(1, slots), poll, retry
        self.views_after, self.views_due, self.idle_since = views_after, True, None   # a restart may have cut them short
        self.stopping = False
        self.count_tries = True   # a batch found in "grading" at start was cut short: one more try
        self.broke = False        # the last batch broke off with an error: the next goes one at a time
        # The release of a batch's feedback runs beside the next batch's collect and grading (other
        # students: one of theirs in "graded" keeps a student out of a batch), and ends before that
        # batch's results are written into the course. (entries, future) while it runs.
        self.releasing = None
        self.beside = ThreadPoolExecutor(max_workers=1, thread_name_prefix="release")

    def scan(self):
        rules = self.backend.rules()
        for name, student, arrived, refused in self.backend.new_submissions(self.queue.known):
            entry = self.queue.add(name, student, arrived, rules, refused=refused)
            if entry:
                say(f"{entry.state}: {student}'s submission {name}" + (f" ({entry.why})" if entry.why else ""))

    def step(self):
        """One round; True if it graded a batch (a release it started runs on beside the next)."""
        rules = self.backend.rules()
        batch = self.queue.in_state("grading")     # cut short by a restart: graded again
        if batch and self.count_tries:
            for entry in batch:
                if entry.tries >= MAX_TRIES:
                    self.queue.move(entry, "failed", f"its grading was cut short {entry.tries} times; "
                                                     "make hub-autograde grades it")
            batch = [entry for entry in batch if entry.state == "grading"]
            if self.broke:   # one of them broke it: one at a time finds which, and the others go on
                for entry in batch[1:]:
                    self.queue.move(entry, "waiting")
                batch = batch[:1]
            self.queue.start(batch)
        self.broke = False
        self.count_tries = True
        if not batch:
            self.scan()
            batch = self.queue.pick(rules, self.slots)
            self.queue.start(batch)
        if batch:
            self.grade(batch, rules)
            self.idle_since = None
        elif self.views_due and time.monotonic() - (self.idle_since or time.monotonic()) >= self.views_after:
            self.backend.views(self.released)
            self.views_due = False
        elif self.idle_since is None:
            self.idle_since = time.monotonic()
        self.released(wait=False)
        pending = self.queue.in_state("graded")
        if pending and self.releasing is None:
            self.releasing = (pending, self.beside.submit(self.release, pending))
        return bool(batch)

    def grade(self, batch, rules):
        say("grading " + ", ".join(f"{e.student} ({e.inbound})" for e in batch))
        # The instructor's views (class report, similarity: the whole class's) wait until no batch
        # came for a while (views_after): written once after a rush, not once a batch.
        self.views_due = True
        outcomes = self.backend.grade(batch, self.released, views=False)
        for entry in batch:
            outcome = outcomes.get(entry.id) or {"state": "failed", "why": "grading gave no outcome for it"}
            state = outcome["state"]
            if state == "done" and rules.release:
                state = "graded"   # its release comes next
            self.queue.graded(entry, state, outcome.get("why", ""), outcome.get("score"),
                              bool(outcome.get("timed_out")))
            say(f"{state}: {entry.student}'s {entry.inbound}" + (f" ({entry.why})" if entry.why else ""))

    def released(self, wait=True):
        """The release under way, once it has ended (waited for, or only if it has): what it raised
        is raised here, its entries left "graded" (released again at the next step)."""
        if self.releasing is None or not (wait or self.releasing[1].done()):
            return
        running, self.releasing = self.releasing[1], None
        running.result()

    def release(self, entries):
        """Beside the loop (self.beside): the entries are no batch's, so nothing else moves them."""
        refused = self.backend.release(entries)
        for entry in entries:
            why = refused.get(entry.id, "")
            self.queue.move(entry, "failed" if why else "done", f"its feedback was not released: {why}" if why else "")

    def turn(self):
        """One step, the machine's troubles said and kept from ending the loop; the seconds to
        wait before the next."""
        try:
            return 0 if self.step() else self.poll
        except NotNow as reason:
            say(f"not now: {reason}; trying again in {self.retry:g} s")
            self.count_tries = False   # the machine's reason: no try of the students' counted
        except Exception:   # a bug, a broken machine, or work that breaks either: said, tried again (MAX_TRIES)
            say("grading broke off:\n" + traceback.format_exc())
            self.broke = True
        return self.retry

    def run(self):
        while not self.stopping:
            self.sleep(self.turn())

    def sleep(self, seconds):
        """Until `seconds` passed, or the release under way ended (the next step takes it up)."""
        end = time.monotonic() + seconds
        while not self.stopping and time.monotonic() < end and not (self.releasing and self.releasing[1].done()):
            time.sleep(min(0.2, end - time.monotonic()))


# ---------------------------------------------------------------- on the hub

class HubBackend:
    """Finding, grading and releasing on this hub, with its settings (hub/hubctl.py)."""

    def __init__(self, settings, options):
        self.settings, self.options = settings, list(options)
        self.course = settings.course_dir()
        self.inbound = settings.exchange / hubctl.COURSE_ID / "inbound"
        self.copy = private_copy.PrivateCopy(settings.private, self.course)
        self.account = hubctl.instructor_account(settings)
        self.run = KeptRun(self.copy, ["--quiet", *self.options,
                                       "--db-url", f"sqlite:///{self.copy.copy / private_copy.GRADEBOOK}"])
        self._rules, self._said = submit_queue.Rules(), ""
        # The instructor's side, kept up: one process for the collect and one for the release,
        # since a release runs beside the next batch's collect.
        self.kept = {module: KeptInstructor(settings)
                     for module in ("grading.exchange.collect_students", "grading.lms.release_feedback")}

    def warm(self):
        """Start what is kept up between batches now, before the first submission comes (the grading
        run's start is the longest: it needs the course in the private copy first)."""
        try:
            for kept in self.kept.values():
                kept.start()
            with self.copy as copy:
                private_copy.bring_in(copy, self.account)
            self.run.start()
        except Exception as error:   # only a head start: the first batch starts what is not up, or says why not
            say(f"what is kept up between batches starts with the first batch: {error}")

    def rules(self):
        """[on_submit] of the course's deadlines.toml as last brought in (what root reviewed); the
        rules as they were if it cannot be read."""
        path = self.copy.copy / "deadlines.toml"
        try:
            table = tomllib.loads(path.read_text(encoding="utf-8")).get("on_submit", {}) if path.is_file() else {}
            self._rules = submit_queue.Rules.from_table(table)
        except (ValueError, TypeError, OSError) as error:
            if str(error) != self._said:
                say(f"deadlines.toml: {error}; the rules stay as they were")
                self._said = str(error)
        return self._rules

    def new_submissions(self, known):
        """[(name, student, arrived, why refused or "")] of the inbound folders not known yet."""
        suffix = f"+{hubctl.ASSIGNMENT}+"
        try:
            fd = os.open(self.inbound, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except FileNotFoundError:
            return []
        found = []
        try:
            for name in sorted(os.listdir(fd)):
                if suffix not in name or known(name):
                    continue
                seen = inbound.read_inbound(fd, name)
                if not seen.refused and time.time() - seen.changed_ns / 1e9 < SETTLE_SECONDS:
                    continue   # still being written: next time
                found.append((name, seen.student, seen.changed_ns / 1e9, seen.refused))
        finally:
            os.close(fd)
        return found

    def as_instructor(self, module, *args):
        """python -m <module> in the course, as the instructor (KeptInstructor)."""
        return self.kept[module].run(self.course, module, *args)

    def grade(self, batch, before_out=lambda: None, views=True):
        """Grade `batch`; before_out() is called before the results are written into the course;
        `views`: False leaves the class report and similarity to a later run (views())."""
        students = sorted({entry.student for entry in batch})
        began = time.monotonic()
        collected = self.as_instructor("grading.exchange.collect_students", *students)
        sys.stdout.write(collected.stderr[-4000:])
        came = self.one_round(before_out, views, {"collect": time.monotonic() - began})
        return {entry.id: self.outcome(entry, came.held_out) for entry in batch}

    def views(self, before_out=lambda: None):
        """The class report and similarity, from a run that grades nothing new."""
        self.one_round(before_out, True, {}, prefix="views-")

    def one_round(self, before_out, views, seconds, prefix=""):
        """The course in, a run of the grading over it, the results out; the Incoming (private_copy)."""
        clock = [time.monotonic()]
        try:
            with self.copy as copy:
                came = private_copy.bring_in(copy, self.account)
                clock.append(time.monotonic())
                status = self.run.grade(views=views)
                if status not in (0, 1):
                    raise NotNow(f"make hub-autograde's grading stopped with status {status} (3: the course's "
                                 "configuration changed and waits for make hub-review-config)")
                before_out()
                clock.append(time.monotonic())
                written = private_copy.send_out(copy, self.account, {"expected": came.gradebook})
                clock.append(time.monotonic())
        except private_copy.TransferRefused as refusal:
            raise NotNow(str(refusal)) from None
        seconds.update((prefix + step, end - begin) for step, begin, end in zip(("in", "grade", "out"), clock, clock[1:]))
        say("seconds: " + ", ".join(f"{step} {value:.1f}" for step, value in seconds.items()))
        if written["gradebook"] == "changed":
            raise NotNow("the gradebook changed while grading (the formgrader saved a grade)")
        return came

    def outcome(self, entry, held_out):
        """What grading made of one submission, from the private copy's report."""
        if entry.student in held_out:
            return {"state": "failed", "why": f"not graded: {private_copy.plain(held_out[entry.student])}"}
        folder = self.copy.copy / "submitted" / entry.student / hubctl.ASSIGNMENT
        taken = deadlines.read_timestamp(folder)
        if taken is None or taken.timestamp() < entry.arrived - 1:
            return {"state": "failed", "why": "collect did not take this submission (collect_log.jsonl says why)"}
        report = self.copy.copy / "reports" / "autograde.json"
        rows = {row["student"]: row for row in json.loads(report.read_text())} if report.is_file() else {}
        row = rows.get(entry.student)
        if row is None:
            return {"state": "failed", "why": "grading did not finish it (the hub's log says why); "
                                              "make hub-autograde tries again"}
        deadline = float(hubctl.option_value(self.options, "--deadline") or 300)
        timed_out = row.get("seconds", 0) >= deadline or any("did not finish within" in p for p in row["problems"])
        outcome = {"state": "flagged" if row.get("flags") else "done", "score": self.score(entry.student),
                   "timed_out": timed_out}
        if row.get("flags"):
            outcome["why"] = "flagged by verification: its feedback waits for the instructor's review"
        return outcome

    def score(self, student):
        """The student's total in grades.csv (after the late penalty): the number every view shows."""
        path = self.copy.copy / "grades.csv"
        if not path.is_file():
            return None
        with open(path, newline="", encoding="utf-8") as table:
            for row in csv.DictReader(table):
                if row.get("student_id") == student:
                    return float(row["score"] or 0)
        return None

    def release(self, entries):
        students = sorted({entry.student for entry in entries})
        args = [arg for student in students for arg in ("--student", student)]
        began = time.monotonic()
        released = self.as_instructor("grading.lms.release_feedback", "--root", str(self.course), *args)
        say(f"seconds: release {time.monotonic() - began:.1f}")
        said = released.stdout + released.stderr
        sys.stdout.write(said[-4000:])
        out = {line.split(": ", 1)[1] for line in said.splitlines() if line.startswith("released: ")}
        names = {name.strip() for line in out for name in line.split(",")}
        return {entry.id: "" if entry.student in names else (said.strip().splitlines() or ["no answer"])[-1][:300]
                for entry in entries}


class KeptRun:
    """`make hub-autograde`'s grading run on the private copy (hubctl.grade), kept up between
    batches: python -m grading.grader.autograde --serve, one run for each line it is sent. It is
    started again when it ended (the configuration refused, a worker lost) or asks to be (the
    configuration, helpers or assignment it loaded changed: autograde.RESTART)."""

    def __init__(self, copy, options):
        self.copy, self.options, self.process = copy, options, None

    def start(self):
        env = {**os.environ, **self.copy.environment(), "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen(
            [str(hubctl.grading_python()), "-m", "grading.grader.autograde", "--root", str(self.copy.copy),
             "--serve", *self.options], cwd=hubctl.REPO, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def grade(self, views=True):
        """One run over the private copy as it is now; its exit status (as hubctl.grade's). `views`:
        False leaves the class report and similarity to the next run."""
        for _ in range(2):   # a second time with a fresh process when the first asks for one
            if self.process is None or self.process.poll() is not None:
                self.start()
            status = self.one_run(b"grade\n" if views else autograde.VIEWS_LATER.encode() + b"\n")
            if status != autograde.RESTART:
                return status
        return status

    def one_run(self, request):
        """Ask for a run; what it prints goes to the log, naming the course's paths, not the copy's."""
        private, course = str(self.copy.copy).encode(), str(self.copy.course).encode()
        marker = autograde.SERVED.encode() + b" "
        try:
            self.process.stdin.write(request)
            self.process.stdin.flush()
        except BrokenPipeError:
            pass   # it ended already: its status says why
        for line in self.process.stdout:
            if line.startswith(marker):
                status = int(line[len(marker):])
                if status == autograde.RESTART:
                    self.process.wait()
                return status
            sys.stdout.buffer.write(line.replace(private, course))
            sys.stdout.buffer.flush()
        return self.process.wait()


class KeptInstructor:
    """The instructor's side (python -m grading.lms.instructor_service, from the instructors' copy of the
    grading package, as the instructor, as their own server runs it: hubctl.release_feedback),
    kept up between batches, so Python, the grading package and nbgrader start once, not twice a
    batch. It is started again when it ended, or asks to be (the code it loaded changed).

    It runs as the instructor, and a page open in the instructor's JupyterLab could have written
    into their account: what it answers is taken as the output of `runuser -u <instructor> --
    python -m <module>` was before, and no further. An answer is one line of at most ANSWER_BYTES,
    read within TIMEOUT seconds, that must be {"status": int, "stdout": str, "stderr": str};
    anything else ends the process and is this request's failure, said in its stderr. Its own
    stderr goes nowhere: only what root chooses to show reaches the log."""

    ANSWER_BYTES = 1 << 20
    TIMEOUT = 600

    def __init__(self, settings):
        self.settings, self.process = settings, None

    def start(self):
        settings = self.settings
        env = {**hubctl.instructor_environment(settings), "GC_HUB_HOME": str(settings.home)}
        self.process = subprocess.Popen(
            ["runuser", "-u", settings.instructor, "--", str(settings.venv / "bin" / "python"),
             "-m", "grading.lms.instructor_service"], cwd=settings.course_dir(), env=env,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)

    def stop(self):
        if self.process is not None:
            self.process.terminate()   # runuser passes it on to the instructor's python
            self.process.stdin.close()   # which, at the latest, ends at the end of its stdin
            self.process.stdout.close()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None

    def run(self, folder, module, *args):
        """`python -m module args` in `folder`, as the instructor: a CompletedProcess."""
        request = (json.dumps([str(folder), module, *args]) + "\n").encode()
        reply = {}
        for _ in range(2):   # once more with a fresh process if this one had ended or asks for one
            if self.process is None or self.process.poll() is not None:
                self.stop()
                self.start()
            reply = self.ask(request)
            if reply is not None and not reply.get("restart"):
                break
            self.stop()
        if reply is None or reply.get("restart"):
            reply = {"status": 1, "stdout": "", "stderr": "the instructor's process ended without an answer\n"}
        return subprocess.CompletedProcess([module, *args], reply["status"], reply["stdout"], reply["stderr"])

    def ask(self, request):
        """The answer to `request` as a dict (checked), or None if the process ended first."""
        try:
            self.process.stdin.write(request)
            self.process.stdin.flush()
        except (BrokenPipeError, ValueError):
            return None
        line = self.read_line()
        if line is None:
            return None
        try:
            reply = json.loads(line)
        except (ValueError, RecursionError):
            reply = None
        if reply == {"restart": True}:
            return reply
        if not (isinstance(reply, dict) and set(reply) == {"status", "stdout", "stderr"}
                and type(reply["status"]) is int and isinstance(reply["stdout"], str)
                and isinstance(reply["stderr"], str)):
            self.stop()
            return {"status": 1, "stdout": "", "stderr": "the instructor's process answered something that is "
                                                         "not an answer; it was ended\n"}
        return reply

    def read_line(self):
        """One line from the process, or None at its end; a line too long, or too late, ends it
        (TimeoutExpired for the latter, as subprocess.run's timeout was)."""
        fd, data = self.process.stdout.fileno(), bytearray()
        deadline = time.monotonic() + self.TIMEOUT
        while not data.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                self.stop()
                raise subprocess.TimeoutExpired("grading.lms.instructor_service", self.TIMEOUT)
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                return None
            data += chunk
            if len(data) > self.ANSWER_BYTES:
                self.stop()
                return b"{}"   # not an answer: said so by ask()
        return bytes(data).decode("utf-8", "replace")


# ---------------------------------------------------------------- the process

def end_leftovers(folder, home):
    """What a killed instance of this service left running (its grading run, in its process group)
    is ended before this one grades the same private copy."""
    pid = hubctl.read_pid(folder / "service.pid")
    if pid and pid != os.getpid():
        marker = str(home).encode()
        for entry in os.listdir("/proc"):
            if entry.isdigit() and int(entry) != os.getpid():
                try:
                    group = os.getpgid(int(entry))
                except ProcessLookupError:
                    continue
                if group == pid and hubctl.environ_of(entry).get(b"GC_HUB_HOME") == marker:
                    try:
                        os.kill(int(entry), signal.SIGKILL)
                    except ProcessLookupError:
                        pass
    (folder / "service.pid").write_text(f"{os.getpid()}\n")


def settings_from_hub():
    """hubctl's Settings of the hub that started this service (its settings.json)."""
    with open(os.environ["GC_HUB_SETTINGS"]) as source:
        saved = json.load(source)
    return hubctl.Settings({"HUB_HOME": saved["home"], "HUB_INSTRUCTOR": saved["instructor"],
                            "HUB_STUDENTS": " ".join(saved["students"]), "HUB_COURSE": saved["course"],
                            "HUB_VENV": saved["venv"], "HUB_PORT": str(saved["port"])}), saved


def main():
    if os.getpgrp() != os.getpid():
        os.setpgid(0, 0)   # a group of its own: what it starts ends with it
    settings, saved = settings_from_hub()
    folder = settings.private / QUEUE
    private_copy.make_private_folder(folder)
    end_leftovers(folder, settings.home)
    options = saved.get("grade_on_submit_options", [])
    queue = submit_queue.Queue(folder / "queue")
    workers = int(hubctl.option_value(options, "--workers") or len(os.sched_getaffinity(0)))
    backend = HubBackend(settings, options)
    service = Service(queue, backend, slots=BATCH_PER_WORKER * workers)

    def stop(*_):
        service.stopping = True
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        os.killpg(0, signal.SIGTERM)   # the grading run under way; its grades finished so far stay in the ledger
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    if os.environ.get("JUPYTERHUB_SERVICE_URL"):
        import queue_page   # beside this script
        queue_page.serve(folder / "queue")
    backend.warm()
    say(f"watching {settings.exchange / hubctl.COURSE_ID / 'inbound'} for {settings.course_dir()}; "
        f"queue {folder / 'queue'}")
    service.run()


if __name__ == "__main__":
    main()
