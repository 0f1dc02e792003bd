"""The kernel service: the kernels a sandboxed nbgrader step asks for, forked from the submission's zygote.

nbgrader's step (grading.sandboxing.nbgrader_step) runs in a sandbox with no kernel of its own: its
kernel launcher (grading.sandboxing.sandbox_kernel) connects to this service's socket, in a folder
the step is shown read-only, with the zygote's protocol (grading.inside.kernel_zygote). The service
checks the request (a kernel of this submission's graded folder, its sockets in the step's sealed
folder), starts the kernel from the zygote with the files of the scratch copy of the graded
folder, moves its sockets into the step's view, and relays the kernel's end, or the launcher's
wish to kill it. It serves while a `with` block runs: one submission's autograde.

    with KernelService(step, zygote, student):
        step.run("autograde", student, settings)
"""
import json
import os
import select
import socket
import sys
import threading

from grading.inside import kernel_zygote
from grading.sandboxing import files, kernels

SERVICE_SOCKET = "kernels.sock"   # in the step's service folder


class KernelService:
    """The kernels `step` (an NbgraderStep) asks for while grading `student`, from `zygote`."""

    def __init__(self, step, zygote, student):
        self.step, self.zygote, self.student = step, zygote, student
        self.cwd = str(step.course.autograded(student))
        self.path = step.service / SERVICE_SOCKET
        self.listener = None
        self.threads = []
        self.lock = threading.Lock()   # one kernel start at a time: they share the zygote

    def __enter__(self):
        files.remove_tree(self.path)
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.listener.bind(str(self.path))
        os.chmod(self.path, 0o666)   # the step's user connects
        self.listener.listen(4)
        thread = threading.Thread(target=self._accept, daemon=True)
        thread.start()
        self.threads.append(thread)
        return self

    def __exit__(self, *exc):
        try:
            self.listener.shutdown(socket.SHUT_RDWR)   # wakes the accepting thread
        except OSError:
            pass
        self.listener.close()
        files.remove_tree(self.path)
        return False

    def _accept(self):
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            thread = threading.Thread(target=self._serve, args=(connection,), daemon=True)
            thread.start()

    def _serve(self, connection):
        output = None
        with connection:
            try:
                data, fds, _, _ = socket.recv_fds(connection, kernel_zygote.MESSAGE, 2)
                output = fds[0] if fds else None
                for extra in fds[1:]:
                    os.close(extra)
                request = json.loads(data)
                info = request["connection"]
                if request.get("cwd") != self.cwd:
                    raise kernels.KernelStartFailed(f"a kernel for {request.get('cwd')!r}, not for {self.cwd}")
                if not str(info.get("ip", "")).startswith(str(self.step.sealed) + "/") or output is None:
                    raise kernels.KernelStartFailed("a kernel request without its socket prefix or output")
                with self.lock:
                    if not self.zygote.alive():   # a kernel of this submission killed it: a new one
                        self.zygote.stop()
                        self.zygote.start()
                    started = self.zygote.start_kernel(info, request.get("argv", []), cwd=self.cwd, output=output,
                                                       folder=self.step.copy.autograded(self.student),
                                                       anchor=self.step.scratch)
            except (kernels.KernelStartFailed, OSError, ValueError, KeyError, TypeError) as error:
                print(f"kernel service: {error}", file=sys.stderr)
                return
            finally:
                if output is not None:
                    os.close(output)
            try:
                connection.send(json.dumps({"pid": started.pid}).encode())
                self._relay(connection, started)
            finally:
                kernels.remove_sealed(info)

    def _relay(self, connection, started):
        """Until the kernel ends: pass the launcher's kill (or its going away) to the zygote, and
        the kernel's exit status back."""
        poller = select.poll()
        poller.register(connection, select.POLLIN | select.POLLHUP)
        poller.register(started.connection, select.POLLIN | select.POLLHUP)
        while True:
            for fd, _ in poller.poll():
                if fd == started.connection.fileno():
                    status = started.exit_status()
                    try:
                        connection.send(json.dumps({"exit": status}).encode())
                    except OSError:
                        pass
                    return
                try:
                    asked = connection.recv(kernel_zygote.MESSAGE)
                except OSError:
                    asked = b""
                if asked in (b"kill", b""):
                    started.kill()
                    if not asked:
                        poller.unregister(connection)
