"""Email backends for the delivery tests: a worker killed mid-send, and a slow mail server."""

import time
from collections.abc import Sequence
from typing import Any

from django.core.mail.backends.locmem import EmailBackend as LocmemBackend


class WorkerKilled(BaseException):
    """Stands for the worker process dying (SIGKILL, OOM): no `except Exception` runs."""


class KilledMidSendBackend(LocmemBackend):
    def send_messages(self, messages: Sequence[Any]) -> int:
        raise WorkerKilled()


class SlowBackend(LocmemBackend):
    """The in-memory outbox behind a mail server that takes half a second per send."""

    def send_messages(self, messages: Sequence[Any]) -> int:
        time.sleep(0.5)
        return super().send_messages(messages)
