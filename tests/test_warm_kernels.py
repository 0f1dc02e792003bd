"""The warm kernel manager copies private methods of one jupyter_client version: it is guarded.

Upgrading jupyter_client (requirements.txt) must come with a review of grading/sandboxing/warm_kernels.py
(its wait_for_ready handshake and _async_wait): then REVIEWED is set to the new version and the first
test passes again. Any version that is not the reviewed one gets the stock waits.
"""
import importlib
import re
from pathlib import Path

import jupyter_client
import pytest
from jupyter_client.asynchronous.client import AsyncKernelClient

from grading.sandboxing import warm_kernels

REQUIREMENTS = Path(__file__).resolve().parent.parent / "requirements.txt"


def pinned_version():
    found = re.search(r"^jupyter[-_]client==(\d+)\.(\d+)\.\d+\s*$", REQUIREMENTS.read_text(), re.MULTILINE | re.IGNORECASE)
    assert found, "requirements.txt pins no exact jupyter_client version"
    return int(found.group(1)), int(found.group(2))


def test_the_pinned_jupyter_client_is_the_reviewed_one():
    assert pinned_version() == warm_kernels.REVIEWED, (
        "jupyter_client's pin changed: review grading/sandboxing/warm_kernels.py against the new version, "
        "then set REVIEWED")
    assert tuple(jupyter_client.version_info[:2]) == warm_kernels.REVIEWED and warm_kernels.PROMPT


@pytest.fixture
def another_jupyter_client(monkeypatch):
    """warm_kernels as it loads next to a jupyter_client it was not reviewed against."""
    monkeypatch.setattr(jupyter_client, "version_info", (9, 0, 0))
    yield importlib.reload(warm_kernels)
    monkeypatch.undo()
    importlib.reload(warm_kernels)


def test_another_version_gets_the_stock_waits_and_keeps_the_message_bound(another_jupyter_client):
    module = another_jupyter_client
    assert not module.PROMPT
    manager = module.PromptKernelManager()
    assert manager.client_factory is AsyncKernelClient
    assert "_async_wait" not in vars(module.PromptKernelManager)
    assert manager.max_message_bytes == 16 * 2 ** 20


def test_the_reviewed_version_gets_the_prompt_waits():
    assert warm_kernels.PromptKernelManager().client_factory is warm_kernels.PromptKernelClient
    assert "_async_wait" in vars(warm_kernels.PromptKernelManager)
