"""Kernels that start warm and stop at once: how the grading pipeline runs nbgrader's kernels fast.

    with KernelZygote(root, student):     # around nbgrader's autograde of one submission
        api.autograde(...)                # with Execute.kernel_manager_class = PromptKernelManager

KernelZygote starts grading/kernel_zygote.py in a sandbox for this one submission (the same
sandbox a kernel gets, on the folder autograded/<student>/) and names its socket in the
environment; the kernel launcher (grading/sandbox_kernel.py) then asks it for each notebook's
kernel instead of starting a new Python. If there is no zygote, or it serves another student's
folder, or it has died, the launcher starts the kernel the usual way: the zygote only saves time.

PromptKernelManager is jupyter_client's kernel manager without its idle waits, which cost about
0.5 s per kernel, and nbgrader starts and stops two kernels per submission:
- its client retries connecting to a kernel's sockets every few milliseconds: they appear only
  once the kernel is up, and ZeroMQ's default is 0.1 s between tries;
- once the kernel has answered, the client waits until IOPub has been quiet for 0.01 s, not 0.2 s;
- while a kernel shuts down, it checks every few milliseconds, not every 0.1 s, whether the
  kernel has exited.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from queue import Empty

import zmq
from jupyter_client.asynchronous.client import AsyncKernelClient
from jupyter_client.manager import AsyncKernelManager
from traitlets import default

from .provided import ASSIGNMENT
from .sandbox import wrap
from .sandbox_kernel import (PACKAGE, SERVES, ZYGOTE, copy_font_cache, kernel_environment,
                             readonly_paths)

ZYGOTE_SCRIPT = PACKAGE / "kernel_zygote.py"   # run by path: the zygote must not import this package
SHUTDOWN_POLL = 0.005                         # seconds between checks that a stopping kernel is gone
RECONNECT_MS = 5                              # milliseconds between the client's tries to connect
QUIET = 0.01                                  # seconds of IOPub silence that end the start-up


class PromptKernelClient(AsyncKernelClient):
    """AsyncKernelClient that is ready as soon as the kernel answers on shell and on IOPub."""

    async def wait_for_ready(self, timeout=None):
        # jupyter_client's handshake, with a shorter drain at the end: it drains IOPub until it
        # has been quiet for 0.2 s, but nbclient ignores every message that does not answer one
        # of its own requests, so what arrives later does no harm.
        deadline = time.monotonic() + (float("inf") if timeout is None else timeout)
        while True:
            self.kernel_info()
            try:
                reply = await self.shell_channel.get_msg(timeout=1)
            except Empty:
                reply = None
            if reply is not None and reply["msg_type"] == "kernel_info_reply":
                try:   # IOPub is connected once anything arrives (ipykernel greets each subscriber)
                    await self.iopub_channel.get_msg(timeout=0.2)
                except Empty:
                    pass
                else:
                    self._handle_kernel_info_reply(reply)
                    break
            if not await self._async_is_alive():
                raise RuntimeError("Kernel died before replying to kernel_info")
            if time.monotonic() > deadline:
                raise RuntimeError(f"Kernel didn't respond in {timeout:g} seconds")
        while True:
            try:
                await self.iopub_channel.get_msg(timeout=QUIET)
            except Empty:
                return


class PromptKernelManager(AsyncKernelManager):
    """AsyncKernelManager whose client connects, and which notices that a kernel it stopped has
    exited, within milliseconds."""

    @default("client_factory")
    def _prompt_client(self):
        return PromptKernelClient

    def client(self, **kwargs):
        client = super().client(**kwargs)
        # Default options of the sockets that the client's own context makes in start_channels.
        client.context.setsockopt(zmq.RECONNECT_IVL, RECONNECT_MS)
        return client

    async def _async_wait(self, pollinterval=0.1):
        # jupyter_client (8.x) polls is_alive() at this interval in shutdown_kernel and kill_kernel.
        await super()._async_wait(pollinterval=min(pollinterval, SHUTDOWN_POLL))


class KernelZygote:
    """A kernel zygote for one student's submission, from `with` to the end of the block."""

    def __init__(self, root, student, assignment=ASSIGNMENT):
        self.root, self.student, self.assignment = Path(root), student, assignment
        self.folder = self.root / "autograded" / student   # nbgrader replaces <assignment>/ inside
        self.private = self.process = None

    @property
    def socket(self):
        return self.private / "zygote.sock"

    def __enter__(self):
        self.folder.mkdir(parents=True, exist_ok=True)
        self.private = Path(tempfile.mkdtemp(prefix="gc-zygote-"))
        (self.private / SERVES).write_text(str(self.folder))
        copy_font_cache(self.private)
        command = wrap([sys.executable, str(ZYGOTE_SCRIPT), str(self.socket)], workdir=self.folder,
                       readonly=readonly_paths(self.root, self.assignment), writable=[self.folder, self.private],
                       env=kernel_environment(self.root, self.assignment, self.private))
        # Silent: a zygote that fails costs only time, and a kernel started the usual way then
        # reports its own errors.
        self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        os.environ[ZYGOTE] = str(self.socket)
        return self

    def __exit__(self, *exc):
        os.environ.pop(ZYGOTE, None)
        self.process.terminate()      # bwrap; --die-with-parent takes the sandbox with it
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.private, ignore_errors=True)
        return False
