"""nbgrader's Execute preprocessor, bounded for a whole submission: a deadline and an output budget.

nbgrader bounds a cell's time (Execute.timeout) and its stream output in lines (LimitOutput):
a notebook of many slow cells still takes cells × timeout, and images, HTML and other display
outputs are not bounded at all, nor are the bytes of a line. Under `make autograde`
(grading.sandboxing.nbgrader_step) the Execute step of nbgrader's autograde is this subclass instead:

- `deadline` (a time.time() value, the same for every notebook of the submission): each cell
  gets at most the time that is left; once it has passed, no further cell runs, and each code
  cell gets an error output that says so (a test cell then scores 0 in the kernel; what counts
  is the verified score, grading.grader.verify);
- `output_bytes`: the outputs a notebook keeps, of every type (streams, display data, results,
  errors, widget messages), measured in bytes as they arrive; past the budget they are dropped
  and the cell gets one line that says so. The grader's memory then holds at most the budget,
  plus one message, whose size the kernel manager bounds (grading.sandboxing.warm_kernels).
"""
import time

from nbformat.v4 import new_output
from nbgrader.preprocessors import Execute
from traitlets import Float, Integer

from grading.settings import DEFAULTS

OUTPUT_TYPES = {"stream", "display_data", "execute_result", "error", "update_display_data"}


def size(value):
    """Bytes that a message's content takes, roughly: the length of its strings and keys."""
    if isinstance(value, str):
        return len(value)
    if isinstance(value, dict):
        return sum(len(str(key)) + size(item) for key, item in value.items())
    if isinstance(value, (list, tuple)):
        return sum(size(item) for item in value)
    return 8


class BoundedExecute(Execute):
    """Execute with a deadline for the whole submission and an output budget per notebook."""

    deadline = Float(0.0, help="time.time() by which the submission's cells must be done; 0 for none").tag(config=True)
    output_bytes = Integer(DEFAULTS.output_bytes, help="bytes of output a notebook keeps, of every output type "
                                                       "(GradingSettings.output_bytes)").tag(config=True)

    def preprocess(self, nb, resources=None, km=None):
        self._kept = 0
        self._cut = set()
        return super().preprocess(nb, resources, km)

    def _left(self):
        return float("inf") if not self.deadline else self.deadline - time.time()

    def _get_timeout(self, cell):
        timeout = super()._get_timeout(cell)
        left = self._left()
        if left == float("inf"):
            return timeout
        return max(1, int(min(timeout or left, left)))

    async def async_execute_cell(self, cell, cell_index, execution_count=None, store_history=True):
        if cell.cell_type == "code" and cell.source.strip() and self._left() <= 0:
            cell.outputs = [new_output("error", ename="SubmissionTimeLimit",
                                       evalue="not run: the time for grading this submission had run out",
                                       traceback=["SubmissionTimeLimit: not run: the time for grading this "
                                                  "submission had run out"])]
            return cell
        return await super().async_execute_cell(cell, cell_index, execution_count, store_history)

    def process_message(self, msg, cell, cell_index):
        kind = msg["msg_type"]
        if kind in OUTPUT_TYPES or kind.startswith("comm"):
            cost = size(msg.get("content"))
            if self._kept + cost > self.output_bytes:
                if cell_index not in self._cut:
                    self._cut.add(cell_index)
                    cell.outputs.append(new_output(
                        "stream", name="stdout",
                        text=f"[output cut: the notebook's outputs reached the {self.output_bytes} bytes allowed]\n"))
                return None
            self._kept += cost
        return super().process_message(msg, cell, cell_index)

    def on_cell_executed(self, **kwargs):
        super().on_cell_executed(**kwargs)
        # The error nbgrader copies from the execute reply (a timeout, a swallowed traceback)
        # arrives on the shell channel, outside process_message: bound it here.
        cell = kwargs["cell"]
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error" and size(output) > 64 * 2 ** 10:
                output["traceback"] = [line[:2000] for line in output.get("traceback", [])[-60:]]
                output["evalue"] = str(output.get("evalue", ""))[:2000]
