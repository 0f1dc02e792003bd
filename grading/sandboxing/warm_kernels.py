"""A kernel manager without idle waits, and with a bound on what a kernel may send.

nbgrader's Execute starts and stops two kernels per submission. PromptKernelManager is
jupyter_client's kernel manager without its idle waits, which cost about 0.5 s per kernel:
- its client retries connecting to a kernel's sockets every few milliseconds: they appear only
  once the kernel is up, and ZeroMQ's default is 0.1 s between tries;
- once the kernel has answered, the client waits until IOPub has been quiet for 0.01 s, not 0.2 s;
- while a kernel shuts down, it checks every few milliseconds, not every 0.1 s, whether the
  kernel has exited.
Its client also refuses any message larger than `max_message_bytes` (ZeroMQ's MAXMSGSIZE: the
connection is dropped and reopened, the message lost), so that one output of a kernel cannot
fill the grader's memory; grading.sandboxing.bounded_execute bounds what a notebook keeps in all.

The waits are jupyter_client's private methods (wait_for_ready's handshake, _async_wait), copied
from the version that requirements.txt pins and that was reviewed: REVIEWED. Another version gets
the stock waits (slower, not wrong); the message bound is public API and holds for every version.
tests/test_warm_kernels.py fails when the pin changes without this review.

Kernels start warm too: `make autograde` forks them from a kernel zygote in the submission's
sandbox (grading.sandboxing.kernels, grading.sandboxing.nbgrader_step), which has imported ipykernel, NumPy and pyplot.
"""
import time
from queue import Empty

import jupyter_client
import zmq
from jupyter_client.asynchronous.client import AsyncKernelClient
from jupyter_client.manager import AsyncKernelManager
from traitlets import Integer, default

from grading.settings import DEFAULTS

SHUTDOWN_POLL = 0.005                         # seconds between checks that a stopping kernel is gone
RECONNECT_MS = 5                              # milliseconds between the client's tries to connect
QUIET = 0.01                                  # seconds of IOPub silence that end the start-up
REVIEWED = (8, 10)                            # the jupyter_client whose private methods are copied here
PROMPT = tuple(jupyter_client.version_info[:2]) == REVIEWED   # else: the stock waits


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
    exited, within milliseconds; its client reads no message over max_message_bytes."""

    max_message_bytes = Integer(DEFAULTS.message_bytes, help="the largest message read from a kernel "
                                                             "(GradingSettings.message_bytes)").tag(config=True)

    @default("client_factory")
    def _prompt_client(self):
        return PromptKernelClient if PROMPT else AsyncKernelClient

    def client(self, **kwargs):
        client = super().client(**kwargs)
        # Default options of the sockets that the client's own context makes in start_channels.
        client.context.setsockopt(zmq.RECONNECT_IVL, RECONNECT_MS)
        client.context.setsockopt(zmq.MAXMSGSIZE, self.max_message_bytes)
        return client

    if PROMPT:
        async def _async_wait(self, pollinterval=0.1):
            # jupyter_client (8.10) polls is_alive() at this interval in shutdown_kernel and kill_kernel.
            await super()._async_wait(pollinterval=min(pollinterval, SHUTDOWN_POLL))
