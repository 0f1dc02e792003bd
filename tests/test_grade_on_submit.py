"""Grading on submit's queue and loop without a hub (hub/submit_queue.py, hub/grade_on_submit.py).

The service runs in a process of its own over a backend of this file's (FakeBackend, `python
tests/test_grade_on_submit.py serve <folder>`): submissions are files in <folder>/inbound, grading
takes a moment and keeps a ledger as the course's does (a submission graded to the end is never
graded again), every real grading and every release is a line in <folder>/events. The rules
(replacement, cool-down, attempts, behind after a time-out) are checked on the queue itself. Last,
the grading run the hub's service keeps up between batches (autograde --serve), on a real course,
with local workers and on a Dask cluster (SCHEDULER=).
"""
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "hub"))
import grade_on_submit  # noqa: E402  (hub/ is a folder of scripts)
import submit_queue  # noqa: E402
from submit_queue import Queue, Rules  # noqa: E402

pytestmark = pytest.mark.fast
GRADING_SECONDS = 0.3   # one batch, in the fake


class FakeBackend:
    """Submissions are files <student>+gradient_checking+<n> in inbound/, holding their arrival time."""

    def __init__(self, work):
        self.work = Path(work)
        (self.work / "ledger").mkdir(exist_ok=True)

    def rules(self):
        path = self.work / "rules.json"
        return Rules.from_table(json.loads(path.read_text()) if path.exists() else {})

    def new_submissions(self, known):
        found = []
        for path in sorted((self.work / "inbound").iterdir()):
            if not known(path.name) and path.stat().st_size:
                found.append((path.name, path.name.split("+")[0], float(path.read_text()), ""))
        return found

    def event(self, text):
        with open(self.work / "events", "a") as events:
            events.write(text + "\n")
            events.flush()
            os.fsync(events.fileno())

    def grade(self, batch, before_out=lambda: None, views=True):
        if any(entry.student == "breaks" for entry in batch):
            raise RuntimeError("this submission breaks the grading machine")
        self.event(f"batch {batch[0].started!r} " + " ".join(entry.student for entry in batch))
        time.sleep(GRADING_SECONDS)
        while (self.work / "hold").exists():   # the test kills the service in the middle of this batch
            time.sleep(0.05)
        before_out()
        for entry in batch:
            done = self.work / "ledger" / entry.id
            if not done.exists():   # as the course's ledger: graded once, to the end
                self.event(f"graded {entry.inbound}")
                done.write_text("1")
        return {entry.id: {"state": "flagged" if entry.student.startswith("flag") else "done", "score": 1.0,
                           "timed_out": "slow" in entry.inbound} for entry in batch}

    def views(self, before_out=lambda: None):
        before_out()
        self.event("views written")   # the class report and similarity

    def release(self, entries):
        for entry in entries:
            self.event(f"released {entry.inbound}")
        return {}


def serve(work):
    queue = Queue(Path(work) / "queue")
    grade_on_submit.Service(queue, FakeBackend(work), slots=2, poll=0.05, retry=0.1, views_after=0.5).run()


def submit(work, student, number):
    path = Path(work) / "inbound" / f"{student}+gradient_checking+{number:03d}"
    scratch = path.with_name("." + path.name)
    scratch.write_text(repr(time.time()))
    scratch.rename(path)


def start_service(work):
    return subprocess.Popen([sys.executable, __file__, "serve", str(work)], stdout=subprocess.DEVNULL)


def wait_until(condition, timeout=120):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "waited in vain"
        time.sleep(0.02)


def settled(work, expected, timeout=120):
    """The queue once every one of `expected` submissions has a final state."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        queue = Queue(Path(work) / "queue")
        if len(queue.entries) == expected and not queue.in_state(*submit_queue.ACTIVE):
            return queue
        time.sleep(0.1)
    raise AssertionError(f"not settled: {submit_queue.describe(Queue(Path(work) / 'queue'))}")


def events(work):
    path = Path(work) / "events"
    lines = path.read_text().splitlines() if path.exists() else []
    return [line.split(" ", 1) for line in lines]


@pytest.fixture
def work(tmp_path):
    (tmp_path / "inbound").mkdir()
    return tmp_path


def test_each_submission_is_graded_once_across_a_sigkill(work):
    """Twelve students; the service killed with SIGKILL while it grades, started again: every
    submission graded exactly once and released, none lost; the class report and similarity are
    left to the rush's last batch."""
    for number, student in enumerate(f"s{n}" for n in range(12)):
        submit(work, student, number)
    service = start_service(work)
    try:
        wait_until(lambda: Counter(kind for kind, _ in events(work))["released"] >= 3)
        (work / "hold").touch()          # the next batch waits ...
        # The release of the batch before runs beside it: the kill lands once it is recorded (a
        # kill between nbgrader's release and its record would release the same pages again).
        wait_until(lambda: events(work)[-1][0] == "batch" and not Queue(work / "queue").in_state("graded"))
        service.send_signal(signal.SIGKILL)   # ... and is killed in the middle
        service.wait()
        (work / "hold").unlink()
        cut_short = [e.inbound for e in Queue(work / "queue").in_state("grading")]
        assert cut_short
        submit(work, "late", 99)        # arrives while the service is down
        service = start_service(work)
        queue = settled(work, 13)
        wait_until(lambda: events(work)[-1][0] == "views", timeout=30)
    finally:
        service.kill()
        service.wait()
    said = events(work)
    graded = Counter(what for kind, what in said if kind == "graded")
    released = Counter(what for kind, what in said if kind == "released")
    names = sorted(p.name for p in (work / "inbound").iterdir())
    assert sorted(graded) == names and set(graded.values()) == {1}
    assert sorted(released) == names and set(released.values()) == {1}
    assert {e.state for e in queue.entries.values()} == {"done"}
    assert all(e.tries == (2 if e.inbound in cut_short else 1) for e in queue.entries.values())
    # The instructor's views wait for the end of the batches, then are written once.
    kinds = [kind for kind, _ in said if kind in ("batch", "views")]
    assert kinds.count("views") == 1 and kinds[-1] == "views"


def test_a_flood_is_graded_one_at_a_time_and_others_wait_little(work):
    """One student submits 30 times as fast as they can; another submits once meanwhile: the
    flooder is never in a batch twice, their queued submission is replaced by each newer one,
    and the other's submission is graded in the first batch after it was queued."""
    service = start_service(work)
    try:
        for number in range(30):
            submit(work, "flood", number)
            if number == 10:
                submit(work, "calm", 0)
            time.sleep(0.02)
        queue = settled(work, 31)
    finally:
        service.kill()
        service.wait()
    batches = [what.split()[1:] for kind, what in events(work) if kind == "batch"]
    assert all(len(batch) == len(set(batch)) for batch in batches)
    states = Counter(e.state for e in queue.entries.values() if e.student == "flood")
    assert states["replaced"] >= 20 and states["done"] == 30 - states["replaced"]
    newest = max((e for e in queue.entries.values() if e.student == "flood"), key=lambda e: e.inbound)
    assert newest.state == "done"   # the latest counts
    calm = next(e for e in queue.entries.values() if e.student == "calm")
    queued = next(moment for moment, state in calm.history if state == "waiting")
    started = [float(moment) for kind, what in events(work) if kind == "batch" for moment in what.split()[:1]]
    assert calm.state == "done" and calm.started == min(moment for moment in started if moment >= queued)


def test_release_can_be_turned_off_and_flagged_work_waits(work):
    """release = false: graded, nothing released; a flagged submission is never released."""
    (work / "rules.json").write_text(json.dumps({"release": False}))
    submit(work, "ada", 1)
    submit(work, "flagged", 1)
    service = grade_on_submit.Service(Queue(work / "queue"), FakeBackend(work), slots=2, poll=0, retry=0)
    assert service.step()
    service.released()   # the release runs beside the loop
    assert {e.student: e.state for e in service.queue.entries.values()} == {"ada": "done", "flagged": "flagged"}
    (work / "rules.json").write_text(json.dumps({"release": True}))
    submit(work, "ada", 2)
    assert service.step()
    service.released()
    assert [what for kind, what in events(work) if kind == "released"] == ["ada+gradient_checking+002"]


def test_a_submission_that_breaks_grading_stops_no_one_else(work):
    """Grading a batch fails with an error: the batch is tried one at a time, the submission that
    breaks it fails after its tries, the others are graded and released."""
    for student in ("breaks", "ada", "bo"):
        submit(work, student, 1)
    service = grade_on_submit.Service(Queue(work / "queue"), FakeBackend(work), slots=3, poll=0, retry=0)
    for _ in range(6):
        service.turn()
    service.released()
    states = {e.student: e.state for e in service.queue.entries.values()}
    assert states == {"breaks": "failed", "ada": "done", "bo": "done"}, states
    assert sorted(what for kind, what in events(work) if kind == "released") == [
        "ada+gradient_checking+001", "bo+gradient_checking+001"]


def test_the_rules(tmp_path):
    queue, rules = Queue(tmp_path / "q"), Rules()
    now = 1000.0
    first = queue.add("a+gc+1", "a", now, rules, now=now)
    queue.add("b+gc+1", "b", now + 1, rules, now=now + 1)
    newer = queue.add("a+gc+2", "a", now + 2, rules, now=now + 2)
    assert first.state == "replaced" and newer.seq == first.seq              # a newer one takes its place
    assert [e.student for e in queue.pick(rules, 5, now=now + 3)] == ["a", "b"]
    assert queue.add("a+gc+2", "a", now + 2, rules) is None                  # known already
    # a time-out sends the student's next one behind everyone else's, even those who came later,
    # whether it came during that grading or after it
    queue.start([newer], now=now + 3)
    during = queue.add("a+gc+3", "a", now + 3.5, rules, now=now + 3.5)
    assert not during.behind
    queue.graded(newer, "done", timed_out=True, now=now + 4)
    assert during.behind
    queue.move(during, "replaced", now=now + 4.5)
    after = queue.add("a+gc+4", "a", now + 5, rules, now=now + 5)
    queue.add("c+gc+1", "c", now + 6, rules, now=now + 6)
    assert after.behind and [e.student for e in queue.pick(rules, 5, now=now + 7)] == ["b", "c", "a"]
    # cool-down and attempts
    assert queue.pick(Rules(cooldown_minutes=1), 5, now=now + 7)[-1].student == "c"   # a graded at now + 3
    limited = queue.add("a+gc+5", "a", now + 8, Rules(max_attempts=1), now=now + 8)
    assert limited.state == "refused" and "limit of 1" in limited.why
    # the record survives a restart, as it was
    again = Queue(tmp_path / "q")
    assert {e.id: e.state for e in again.entries.values()} == {e.id: e.state for e in queue.entries.values()}
    counts, latency = again.status(now=now + 10)
    assert counts["done"] == 1 and latency["p50"] == 2.0
    with pytest.raises(ValueError, match="unknown keys"):
        Rules.from_table({"cooldown": 5})


if __name__ == "__main__" and sys.argv[1:2] == ["serve"]:
    serve(sys.argv[2])


def kept_run(root, *options):
    """autograde --serve on `root`, as the service's KeptRun starts it."""
    return subprocess.Popen([sys.executable, "-m", "grading.grader.autograde", "--root", str(root), "--quiet",
                             "--serve", *options], cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)


def one_run(run):
    """Ask the kept run for a run: (its exit status, what it printed), as KeptRun.one_run reads it."""
    from grading.grader import autograde

    run.stdin.write("grade\n")
    run.stdin.flush()
    said = []
    for line in run.stdout:
        if line.startswith(autograde.SERVED):
            return int(line.split()[1]), "".join(said)
        said.append(line)
    return None, "".join(said)


def test_a_kept_grading_run_runs_once_a_line_and_asks_for_a_fresh_one_after_a_change(new_course):
    """autograde --serve, as the service keeps it up: a run for each line, its status after the
    marker; once the assignment it loaded changed, it grades nothing with it and ends, RESTART."""
    from grading.grader import autograde

    root = new_course("kept")
    run = kept_run(root, "--workers", "1")
    try:
        status, said = one_run(run)
        assert status == 0 and said.endswith(f"No submissions in {root / 'submitted'}/<student>/gradient_checking/\n")
        assert one_run(run)[0] == 0   # still up
        notebook = root / "source" / "gradient_checking" / "1_gradient_checking_1d.ipynb"
        notebook.write_text(notebook.read_text() + "\n")
        assert one_run(run) == (autograde.RESTART, "")
        assert run.wait(30) == autograde.RESTART
    finally:
        run.kill()
        run.wait()


def test_with_a_dask_scheduler_the_kept_run_grades_on_the_clusters_workers(new_course, dask_scheduler):
    """make hub GRADE_ON_SUBMIT=1 SCHEDULER=tcp://...: the service's kept run grades each batch on
    that cluster's workers, batch after batch, and only what is new."""
    import hubctl
    from distributed import Client

    from grading.grader import course
    from synthetic_class import synthetic

    with Client(dask_scheduler) as client:
        cluster_pids = set(client.run(os.getpid).values())
    root = new_course("kept_dask")
    course.add_submission(root, "ada", synthetic.submission())
    run = kept_run(root, *hubctl.grade_on_submit_options({"SCHEDULER": dask_scheduler}))

    def graded_by():
        rows = json.loads((root / "reports" / "autograde.json").read_text())
        run_report = json.loads((root / "reports" / "autograde_run.json").read_text())
        return {row["student"]: int(row["worker"].rsplit(":", 1)[1]) for row in rows}, run_report["mode"]

    try:
        status, said = one_run(run)
        assert status == 0 and f"Grading 1 of 1 submissions on the Dask cluster at {dask_scheduler}" in said, said
        workers, mode = graded_by()
        assert mode == "dask" and workers["ada"] in cluster_pids, (workers, cluster_pids)
        # The next batch: a second student, on the same kept run; ada's grade is not done again.
        course.add_submission(root, "bo", synthetic.submission(complete=False))
        status, said = one_run(run)
        assert status == 0 and "Grading 1 of 2 submissions on the Dask cluster" in said, said
        workers, mode = graded_by()
        assert mode == "dask" and workers["bo"] in cluster_pids, (workers, cluster_pids)
        scores = course.scores(root)
        assert sum(scores["ada"].values()) == 100 and sum(scores["bo"].values()) == 0, scores
        assert run.poll() is None, "one run served both batches"
    finally:
        run.kill()
        run.wait()


# A stand-in for grading.lms.instructor_service, answering each request as its arguments say: what a
# process run as the instructor (whose account a student's page could have written into) may do.
FAKE_INSTRUCTOR = r"""
import json, os, sys
for line in sys.stdin:
    folder, module, how = json.loads(line)
    if how == "ok":
        print(json.dumps({"status": 0, "stdout": f"released: {os.getpid()}\n", "stderr": ""}), flush=True)
    elif how == "restart":
        print(json.dumps({"restart": True}), flush=True)
        break
    elif how == "die":
        os._exit(9)
    elif how == "huge":
        sys.stdout.write("x" * (2 << 20))
        sys.stdout.flush()
    else:
        print(json.dumps({"status": "0", "stdout": ["released: everyone"], "stderr": "", "more": 1}), flush=True)
"""


class FakeInstructor(grade_on_submit.KeptInstructor):
    TIMEOUT = 20

    def start(self):
        self.process = subprocess.Popen([sys.executable, "-c", FAKE_INSTRUCTOR], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)


def test_the_kept_instructor_process_is_believed_no_further_than_a_program_s_output(tmp_path):
    """What the service reads from its process as the instructor: an answer, as a program's status
    and output; a fresh process when it ended or asks for one; an answer that is not one (the
    wrong shape, or more than a MiB) is a failure said in words, and ends that process."""
    kept = FakeInstructor(None)
    try:
        first = kept.run(tmp_path, "m", "ok")
        pid = kept.process.pid
        assert (first.returncode, first.stderr) == (0, "") and first.stdout.startswith("released: ")
        assert kept.run(tmp_path, "m", "ok").stdout == first.stdout   # the same process
        fresh = kept.run(tmp_path, "m", "restart")   # asks for a fresh one, which takes the request
        assert (fresh.returncode, fresh.stdout) == (1, "") and "ended without an answer" in fresh.stderr
        assert kept.run(tmp_path, "m", "ok").stdout != first.stdout and kept.process.pid != pid
        died = kept.run(tmp_path, "m", "die")
        assert died.returncode == 1 and "ended without an answer" in died.stderr
        for how in ("forged", "huge"):
            lie = kept.run(tmp_path, "m", how)
            assert (lie.returncode, lie.stdout) == (1, "") and "not an answer" in lie.stderr, how
            assert kept.process is None   # ended
        assert kept.run(tmp_path, "m", "ok").returncode == 0   # and a fresh one serves
    finally:
        kept.stop()
