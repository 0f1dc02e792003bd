"""Every bound of grading, declared once, with its help and its unit: GradingSettings.

nbgrader and nbclient declare their settings as the traits of a Configurable, and a course sets
them in its nbgrader_config.py; so does the grader:

    c.GradingSettings.deadline_seconds = 600      # in the course's nbgrader_config.py

The grading run, intake, the export and the exchange's classes read them from the course's
configuration (grading.course_directory.Course.settings); `make autograde --deadline` and
`--cell-timeout` set those two for one run. A trait without config=True is a bound the course
cannot change (it is read where no configuration is: the kernel launcher), declared here all the
same. `make settings` (grading.grader.show_settings) shows a course's values; docs/security.md's
table of bounds is `markdown()` (tests/test_settings.py holds the two equal).

What runs inside a sandbox (grading/inside/) imports none of this: the values it needs are
passed to it, as arguments or in a request.
"""
from traitlets import Enum, Float, Integer
from traitlets.config import Configurable

KiB, MiB, GiB = 2 ** 10, 2 ** 20, 2 ** 30

# The parts of the table, in order: what each group of settings bounds.
SUBMISSION = "a submission: everything it runs, together"
PROCESS = "each process in a sandbox (prlimit), and the sandbox's own folders"
FILES = "a submission's files"
VERIFICATION = "verification (grading/sandboxing/remote.py)"
DOWNLOAD = "an LMS download (make intake)"
EXCHANGE = "a submission in the exchange's inbound/ (collect)"
PARTS = (SUBMISSION, PROCESS, FILES, VERIFICATION, DOWNLOAD, EXCHANGE)


def _seconds(value, help, part, config=True, kind=Float):
    return kind(value, help=help).tag(config=config, part=part, unit="s")


def _bytes(value, help, part, config=True):
    return Integer(value, help=help).tag(config=config, part=part, unit="bytes")


def _count(value, help, part, config=True, unit=""):
    return Integer(value, help=help).tag(config=config, part=part, unit=unit)


class GradingSettings(Configurable):
    """The bounds of grading, as the course sets them (c.GradingSettings.<name> in nbgrader_config.py)."""

    # ------------------------------------------------------------------ a submission
    deadline_seconds = _seconds(300.0, "Wall clock for the whole submission: nbgrader's run of its notebooks (each "
                                "cell gets at most what is left; later cells do not run) and verification "
                                "(`make autograde --deadline`).", SUBMISSION)
    cell_seconds = _seconds(0.0, "One cell at most, never beyond the deadline; 0: nbgrader_config.py's "
                            "Execute.timeout (`--cell-timeout`).", SUBMISSION)
    grace_seconds = _seconds(30.0, "Past the deadline, nbgrader's step is stopped from outside this much later.",
                             SUBMISSION)
    memory_bytes = _bytes(2 * GiB, "Memory of all the submission's processes together: its cgroup (v2 where "
                          "delegated, else v1's memory controller).", SUBMISSION)
    max_processes = _count(128, "Processes and threads of the submission together (the cgroup's pids controller).",
                           SUBMISSION)
    output_bytes = _bytes(4 * MiB, "Outputs one notebook keeps, of every output type (streams, images, HTML, "
                          "results, errors, display updates, widget messages), counted as they arrive "
                          "(grading/sandboxing/bounded_execute.py).", SUBMISSION)
    message_bytes = _bytes(16 * MiB, "The largest message from a kernel that the grader reads: ZeroMQ's "
                           "MAXMSGSIZE on the grader's sockets.", SUBMISSION)
    kernel_log_bytes = _bytes(64 * KiB, "What a kernel writes to its own stdout and stderr (crash reports) that "
                              "the kernel launcher passes on; the rest is dropped.", SUBMISSION, config=False)
    kernel_start_seconds = _seconds(60.0, "For a kernel to open its sockets.", SUBMISSION)

    # ------------------------------------------------------------------ each sandboxed process
    process_memory_bytes = _bytes(3 * GiB, "Address space of each process (RLIMIT_AS).", PROCESS)
    process_cpu_seconds = _seconds(300, "CPU time of each process (RLIMIT_CPU).", PROCESS, kind=Integer)
    sandbox_processes = _count(64, "Processes and threads of the sandbox's user (RLIMIT_NPROC, counted in the "
                               "sandbox's own user namespace).", PROCESS)
    process_file_bytes = _bytes(64 * MiB, "The largest file a process may write (RLIMIT_FSIZE).", PROCESS)
    process_open_files = _count(256, "Open file descriptors of each process (RLIMIT_NOFILE).", PROCESS)
    tmp_bytes = _bytes(64 * MiB, "Each of the sandbox's private /tmp and /dev/shm (tmpfs).", PROCESS)
    work_folder_bytes = _bytes(256 * MiB, "Each private working folder (tmpfs): a kernel's, the verification "
                               "worker's.", PROCESS)
    socket_area_bytes = _bytes(1 * MiB, "The one host folder a kernel writes, for its sockets: a tmpfs of the "
                               "grading process, as root (grading/sandboxing/socket_area.py); emptied after each "
                               "submission, gone with the process.", PROCESS)
    socket_area_files = _count(4096, "Files and folders in that folder (a submission's kernels need about ten "
                               "each).", PROCESS)

    # ------------------------------------------------------------------ a submission's files
    notebook_bytes = _bytes(20 * MiB, "A submitted notebook: staging leaves a larger one out.", FILES)
    notebook_cells = _count(1000, "Cells of a submitted notebook: staging leaves one with more out (the "
                            "assignment's have about 40).", FILES)
    notebook_files = _count(20, "Notebook files of a submission that staging looks into (a student sends two); "
                            "the others are named, not read.", FILES)
    extra_files = _count(50, "Files besides the notebooks that staging copies.", FILES)
    extra_file_bytes = _bytes(5 * MiB, "Each of those files.", FILES)
    kernel_folder_files = _count(200, "Files of a kernel's working folder (the staged submission's).", FILES)
    kernel_folder_file_bytes = _bytes(20 * MiB, "Each of those files.", FILES)
    step_file_bytes = _bytes(64 * MiB, "A file nbgrader's sandboxed step made that the grader brings back (a "
                             "graded notebook, a feedback page), and a feedback page sent to the LMS or the "
                             "exchange.", FILES)

    # ------------------------------------------------------------------ verification
    call_seconds = _seconds(20.0, "One call of a student's function.", VERIFICATION)
    function_seconds = _seconds(60.0, "All calls of one function's hidden tests.", VERIFICATION)
    verification_cell_seconds = _seconds(30.0, "One cell of the student's notebook in the verification worker.",
                                         VERIFICATION)
    verification_cells_seconds = _seconds(60.0, "All cells of one notebook in the worker, restarts included.",
                                          VERIFICATION)
    worker_starts = _count(5, "Workers started for one notebook: each cell that crashes one costs a start.",
                           VERIFICATION)
    worker_start_seconds = _seconds(30.0, "For the worker to start and import NumPy.", VERIFICATION)
    worker_sandbox = Enum(("auto", "required", "off"), "auto",
                          help="Whether the verification worker runs in the sandbox: auto (where bubblewrap is "
                               "installed), required, or off.").tag(config=True, part=VERIFICATION, unit="")

    # ------------------------------------------------------------------ an LMS download
    zip_files = _count(5000, "Files of one download that intake extracts; the rest are skipped with a sentence.",
                       DOWNLOAD)
    zip_file_bytes = _bytes(64 * MiB, "One file, unpacked (a notebook of this assignment is well under 1 MiB).",
                            DOWNLOAD)
    zip_total_bytes = _bytes(2 * GiB, "Everything extracted from one download.", DOWNLOAD)
    zip_ratio = _count(100, "Unpacked size over size in the zip, for files over zip_ratio_from_bytes: more is "
                       "a zip bomb.", DOWNLOAD, unit="times")
    zip_ratio_from_bytes = _bytes(1 * MiB, "The unpacked size from which zip_ratio applies.", DOWNLOAD)
    zip_folders = _count(8, "Folders in a file's path in the zip.", DOWNLOAD)
    zip_name_bytes = _bytes(255, "A file or folder name in the zip, as most file systems allow.", DOWNLOAD)

    # ------------------------------------------------------------------ the exchange
    inbound_entries = _count(200, "Files and folders in one submission (it needs two notebooks and a few "
                             "helpers); a folder with more is refused whole.", EXCHANGE)
    inbound_file_bytes = _bytes(20 * MiB, "One file, as staging reads a notebook; a larger one is left out.",
                                EXCHANGE)
    inbound_total_bytes = _bytes(100 * MiB, "One submission; files past it are left out.", EXCHANGE)

    def values(self):
        """{name: value} of every setting."""
        return {name: getattr(self, name) for name in self.trait_names(part=lambda part: part is not None)}

    def replaced(self, **changes):
        """The same settings with `changes`."""
        return type(self)(**{**self.values(), **changes})

    def __reduce__(self):
        # To a worker process: the values, not the course's whole configuration.
        return _rebuilt, (self.values(),)


def _rebuilt(values):
    return GradingSettings(**values)


DEFAULTS = GradingSettings()


# ---------------------------------------------------------------------- showing them
def shown(value, unit):
    """A setting's value as people read it: 2 GiB, 300 s, 100 times, 128."""
    if unit == "bytes":
        for size, name in ((GiB, "GiB"), (MiB, "MiB"), (KiB, "KiB")):
            if value >= size and value % size == 0:
                return f"{value // size:,} {name}"
        return f"{value:,} bytes"
    if unit == "s":
        return f"{value:g} s"
    return f"{value:,} {unit}".strip() if isinstance(value, int) else str(value)


def declarations():
    """[(part, name, trait)] of every setting, in the order of PARTS and of their declaration."""
    traits = GradingSettings.class_traits(part=lambda part: part is not None)
    order = list(GradingSettings.__dict__)
    return sorted(((trait.metadata["part"], name, trait) for name, trait in traits.items()),
                  key=lambda row: (PARTS.index(row[0]), order.index(row[1])))


def markdown():
    """The table of every bound, with its default value, for docs/security.md."""
    lines = ["| setting (`c.GradingSettings.…`) | default | what it bounds |", "|---|---|---|"]
    part = None
    for where, name, trait in declarations():
        if where != part:
            lines.append(f"| **{where}** | | |")
            part = where
        fixed = "" if trait.metadata.get("config") else " (fixed)"
        lines.append(f"| `{name}`{fixed} | {shown(trait.default_value, trait.metadata['unit'])} | {trait.help} |")
    return "\n".join(lines) + "\n"


# docs/security.md holds markdown() between these two lines (`make settings-doc` writes it there).
TABLE_START = "<!-- the bounds: generated from grading/settings.py by `make settings-doc` -->"
TABLE_END = "<!-- end of the generated bounds -->"


def in_document(document):
    """`document` (docs/security.md's text) with markdown() between TABLE_START and TABLE_END."""
    before, start, rest = document.partition(TABLE_START)
    _, end, after = rest.partition(TABLE_END)
    if not start or not end:
        raise ValueError(f"the document has no {TABLE_START!r} ... {TABLE_END!r} to hold the table")
    return f"{before}{TABLE_START}\n{markdown()}{TABLE_END}{after}"


def text(settings):
    """Every setting of `settings`, by part: its value, its default where it differs, its help."""
    lines = []
    part = None
    for where, name, trait in declarations():
        if where != part:
            lines.append(f"\n{where}:")
            part = where
        value, unit = getattr(settings, name), trait.metadata["unit"]
        note = "" if value == trait.default_value else f"   (set by the course; default {shown(trait.default_value, unit)})"
        fixed = "" if trait.metadata.get("config") else "   (fixed)"
        lines.append(f"  {name} = {shown(value, unit)}{note}{fixed}")
        lines.append(f"      {trait.help}")
    return "\n".join(lines).lstrip("\n")
