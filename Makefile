# The course's commands. Everything runs in .venv, built from the pinned requirements.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: demo test check release reference bench bench-grading autograde intake export release-feedback review-config settings settings-doc clean-students clean-demo help hub hub-stop hub-autograde hub-release-feedback hub-review-config hub-queue bench-hub

# `make autograde` options, all optional (every setting is passed as typed: SETTINGS, at the end):
# WORKERS=4, DB=postgresql://user@host/db,
# SCHEDULER=tcp://host:8786 (a Dask cluster), FORCE=1 (grade again what is graded already),
# SIMILARITY=0.6 (the similarity report lists pairs from this share up; default 0.75).
AUTOGRADE_OPTIONS = $(if $(WORKERS),--workers="$$WORKERS") $(if $(DB),--db-url="$$DB") \
	$(if $(SCHEDULER),--scheduler="$$SCHEDULER") $(if $(FORCE),--force) \
	$(if $(SIMILARITY),--similarity-threshold="$$SIMILARITY")

help:
	@echo "make demo     grade synthetic students in a demo course of their own (demo/) and print their scores"
	@echo "make clean-demo  remove demo/"
	@echo "make test     run the whole test suite (installs the Debian packages it needs when missing)"
	@echo "make check    the fast lane: the defences' units, the checks and one submission end to end (~2 min)"
	@echo "make release  regenerate grading/checks/reference.py, the visible tests' table and release/ from source/,"
	@echo "               and record source/'s helpers (gc_utils.py, gc_feedback.py, its cases) as reviewed"
	@echo "make bench    measure notebook run times and autograde time per submission"
	@echo "make autograde  grade what is new in submitted/: one worker per core, sandboxed, verified, resumable"
	@echo "               [WORKERS=n] [DB=postgresql://...] [SCHEDULER=tcp://host:8786] [FORCE=1] [SIMILARITY=0.75]"
	@echo "make intake ZIP=submissions.zip ROSTER=roster.csv  import a Canvas or Moodle download"
	@echo "               [DB=...] [OLDER=1: take a download older than a student's submission in the course]"
	@echo "make export   grades and feedback back to the LMS: files for Canvas's or Moodle's import, in exports/"
	@echo "               [COLUMN=name] [RELEASE_FLAGGED=1]"
	@echo "make release-feedback  feedback to students through nbgrader's exchange (flagged ones held back)"
	@echo "               [RELEASE_FLAGGED=1]"
	@echo "make review-config  show how nbgrader_config.py, deadlines.toml or source/'s helpers changed since last"
	@echo "               reviewed, and accept it: answer y (or echo y | make review-config), or ACCEPT=1"
	@echo "make settings  every bound of grading as the course sets it (c.GradingSettings in nbgrader_config.py)"
	@echo "make settings-doc  write the table of the settings' defaults into docs/security.md"
	@echo "make bench-hub  the round trip on a real JupyterHub for 2 and 30 students, and a rush of 30 submissions"
	@echo "               graded on submit (as root, ~25 min)"
	@echo "make bench-grading  throughput of grading 100 submissions: stock nbgrader, ours, the floor (~25 min)"
	@echo "make hub      the course on a real JupyterHub on 127.0.0.1:8000 (as root; docs/hub.md): accounts,"
	@echo "               nbgrader's exchange, the formgrader [HUB_PORT=8000] [HUB_HOME=/srv/gradient-checking-hub]"
	@echo "make hub-stop stop that hub and every server it started"
	@echo "make hub-autograde  make autograde on the hub's course copy (same options), in a private copy of it"
	@echo "make hub-review-config  make review-config for the hub's course copy [ACCEPT=1]"
	@echo "make hub-release-feedback  make release-feedback through the hub's exchange, as the instructor [RELEASE_FLAGGED=1]"
	@echo "make hub GRADE_ON_SUBMIT=1  the hub grades each submission as it arrives and releases its feedback"
	@echo "               [WORKERS=n] [SCHEDULER=tcp://host:8786]; make hub-queue shows its queue"

$(BIN)/.installed: requirements.txt pyproject.toml jupyter-config/grading.json
	@# Submissions run in Debian's bubblewrap with a seccomp filter made by libseccomp; install
	@# them when missing and we may (root, apt).
	@{ command -v bwrap >/dev/null && ldconfig -p | grep -q 'libseccomp\.so\.2'; } || \
		{ [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
		{ DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
		  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap libseccomp2 >/dev/null; }; } || \
		{ echo "bubblewrap (bwrap) and libseccomp2 are required: install Debian's packages bubblewrap and libseccomp2"; exit 1; }
	"$$PYTHON" -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip==26.3
	$(BIN)/pip install --quiet -r requirements.txt
	$(BIN)/pip install --quiet --no-build-isolation --no-deps -e .
	$(BIN)/python -m grading.sandboxing.sandbox_kernel --install  # the sandboxed kernel that autograde uses
	@# The formgrader's pages escape what they show (grading/plugins/formgrader_guard.py).
	install -D -m 644 jupyter-config/grading.json $(VENV)/etc/jupyter/jupyter_server_config.d/grading.json
	touch $@

reference: $(BIN)/.installed
	$(BIN)/python -m grading.checks.build_reference

# The instructor who releases source/'s helpers has read them: they are recorded as reviewed
# (grading/grader/reviewed_config.py); a later change is refused by make autograde until accepted.
release: reference
	$(BIN)/nbgrader generate_assignment gradient_checking --force
	$(BIN)/python -m grading.grader.config_review --record-helpers

demo: release
	$(BIN)/python -m synthetic_class.demo

# What the suite needs besides .venv (Debian's chromium, bubblewrap, postgresql, ...): installed when missing.
test: $(BIN)/.installed
	tests/system_needs.sh
	$(BIN)/python -m pytest -q --durations=15

# The fast lane (under five minutes): the modules marked `pytestmark = pytest.mark.fast`.
check: $(BIN)/.installed
	tests/system_needs.sh
	$(BIN)/python -m pytest -q -m fast --durations=5

bench: $(BIN)/.installed
	$(BIN)/python benchmarks/bench_notebooks.py
	$(BIN)/python benchmarks/bench_security.py
	$(BIN)/python benchmarks/bench_lms.py
	$(BIN)/python benchmarks/bench_false_failures.py
	tests/system_needs.sh
	GC_WHOLE_CATALOG=1 $(BIN)/python -m pytest -q --durations=3 tests/test_catalog.py tests/test_attacks.py   # every mistake and every attack through nbgrader

# Every student's work in the course; only with CONFIRM=yes. The demo's class is in demo/.
clean-students:
	@[ "$$CONFIRM" = yes ] || { echo "make clean-students deletes every student's submission, grade and feedback in this course"; \
		echo "(submitted/ autograded/ feedback/ gradebook.db grades.csv downloaded/ reports/ .grading/ quarantine/ collect_log.jsonl)."; \
		echo "If that is what you want: make clean-students CONFIRM=yes. The demo's class: make clean-demo."; exit 1; }
	rm -rf submitted autograded/*/ feedback gradebook.db grades.csv downloaded reports .grading quarantine collect_log.jsonl

clean-demo:
	rm -rf demo

autograde: $(BIN)/.installed
	$(BIN)/python -m grading.grader.autograde $(AUTOGRADE_OPTIONS)

intake: $(BIN)/.installed
	@[ -n "$$ZIP" ] && [ -n "$$ROSTER" ] || { echo "make intake needs ZIP=the LMS's download and ROSTER=the roster CSV"; exit 2; }
	$(BIN)/python -m grading.lms.intake --roster="$$ROSTER" $(if $(DB),--db-url="$$DB") $(if $(OLDER),--take-older) \
		-- "$$ZIP"

export: $(BIN)/.installed
	$(BIN)/python -m grading.lms.lms_export $(if $(DB),--db-url="$$DB") $(if $(COLUMN),--column="$$COLUMN") \
		$(if $(RELEASE_FLAGGED),--release-flagged)

release-feedback: $(BIN)/.installed
	$(BIN)/python -m grading.lms.release_feedback $(if $(RELEASE_FLAGGED),--release-flagged)

review-config: $(BIN)/.installed
	$(BIN)/python -m grading.grader.config_review $(if $(ACCEPT),--accept)

settings: $(BIN)/.installed
	$(BIN)/python -m grading.grader.show_settings

settings-doc: $(BIN)/.installed
	$(BIN)/python -m grading.grader.show_settings --document docs/security.md

bench-grading: $(BIN)/.installed
	$(BIN)/python benchmarks/bench_grading.py

# The round trip on a real JupyterHub for 2 and 30 students, then a rush of 30 submissions graded on
# submit (as root; about 25 minutes).
bench-hub: $(BIN)/.installed
	$(BIN)/python benchmarks/bench_hub.py

# The course on a real JupyterHub (docs/hub.md), as root. Debian's python3.11 runs the script and
# the hub's own venv (the course's .venv is not one that the hub's users can run). Settings:
# HUB_PORT=8000 HUB_HOME=/srv/gradient-checking-hub HUB_INSTRUCTOR=instructor
# HUB_STUDENTS="student1 student2 student3" HUB_COURSE=~instructor/gradient-checking
HUB_PYTHON ?= /usr/bin/python3.11
hub: $(BIN)/.installed
	"$$HUB_PYTHON" hub/hubctl.py start

hub-stop:
	"$$HUB_PYTHON" hub/hubctl.py stop

# Grading and feedback of the hub's course copy: the same pipeline and rule as make autograde and
# make release-feedback, with the same options (grading runs as root from .venv in a private copy
# of the course; what it reads and writes there goes through a program run as the instructor;
# feedback is released as the instructor). make hub records the course copy's configuration and
# helpers as reviewed (it needs .venv for that); make hub-review-config shows a change, and accepts it.
hub-autograde: $(BIN)/.installed
	"$$HUB_PYTHON" hub/hubctl.py autograde $(AUTOGRADE_OPTIONS)

hub-review-config: $(BIN)/.installed
	"$$HUB_PYTHON" hub/hubctl.py review-config $(if $(ACCEPT),--accept)

hub-release-feedback:
	"$$HUB_PYTHON" hub/hubctl.py release-feedback $(if $(RELEASE_FLAGGED),--release-flagged)

# Grading on submit (make hub GRADE_ON_SUBMIT=1): its queue, latencies of the last hour.
hub-queue:
	"$$HUB_PYTHON" hub/hubctl.py queue

# Every setting a command takes (ZIP=..., ROSTER=..., DB=..., HUB_HOME=...; the defaults above)
# reaches its recipe as an environment variable, taken as typed: make expands nothing in it
# ($(value ...): a `$` stays a `$`), and the recipes quote it as "$$ZIP", so the shell parses none
# of its characters either (spaces, brackets, quotes, `$`, any alphabet: a browser's
# "submissions (1).zip" is a path like any other). Here, at the end, after every default is set.
SETTINGS := ZIP ROSTER DB COLUMN OLDER WORKERS SCHEDULER FORCE SIMILARITY ACCEPT RELEASE_FLAGGED CONFIRM \
	PYTHON HUB_PORT HUB_HOME HUB_INSTRUCTOR HUB_STUDENTS HUB_COURSE HUB_VENV HUB_PYTHON
$(foreach v,$(SETTINGS),$(if $(filter command line environment environment override,$(origin $(v))),\
	$(eval override $(v) := $$(value $(v)))))
export $(foreach v,$(SETTINGS),$(if $(filter undefined,$(origin $(v))),,$(v)))
