"""Concurrent attempts at a share limit: bursts of threads released together, and DRF's throttle."""

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from django.core.cache.backends.base import BaseCache
    from rest_framework.throttling import ScopedRateThrottle

THROTTLE_SCOPE = "share"
THROTTLE_RATE = "1/hour"


# ---------------------------------------------------------------------------------------------
# One burst: N threads released together, one attempt each


@dataclass(slots=True)
class Burst:
    granted: int = 0
    refused: int = 0
    errors: list[str] = field(default_factory=list)


def burst(
    attempt: Callable[[], bool],
    *,
    attempts: int,
    timeout: float,
    before: Callable[[], None] | None = None,
    after: Callable[[], None] | None = None,
) -> Burst:
    """Run `attempt` once in each of `attempts` threads, all released by one barrier.

    `before` runs in each thread ahead of the barrier (open a connection, so the burst is not spread
    out by connecting), `after` in each thread at the end (close it). Bounded: the barrier and the
    joins time out, and a burst that is still running after `timeout` seconds raises TimeoutError.
    """
    barrier = threading.Barrier(attempts, timeout=timeout)
    lock = threading.Lock()
    result = Burst()

    def run() -> None:
        try:
            if before is not None:
                try:
                    before()
                except BaseException:
                    barrier.abort()  # the others would wait for this thread in vain
                    raise
            barrier.wait()
            granted = attempt()
            with lock:
                if granted:
                    result.granted += 1
                else:
                    result.refused += 1
        except Exception as exc:
            with lock:
                result.errors.append(repr(exc))
        finally:
            if after is not None:
                try:
                    after()
                except Exception as exc:
                    with lock:
                        result.errors.append(f"after the attempt: {exc!r}")

    threads = [threading.Thread(target=run, name=f"attempt-{n}", daemon=True) for n in range(attempts)]
    deadline = time.monotonic() + timeout + 5
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=max(0.0, deadline - time.monotonic()))
    running = sum(thread.is_alive() for thread in threads)
    if running:
        raise TimeoutError(f"{running} of {attempts} attempts still running after {timeout:.0f} s")
    return result


# ---------------------------------------------------------------------------------------------
# DRF's ScopedRateThrottle with a fake request and view


def drf_share_throttle(cache: "BaseCache") -> "type[ScopedRateThrottle]":
    """ScopedRateThrottle as a view with `throttle_scope = "share"` would use it, on `cache`."""
    from rest_framework.throttling import ScopedRateThrottle

    class ShareThrottle(ScopedRateThrottle):
        THROTTLE_RATES = {THROTTLE_SCOPE: THROTTLE_RATE}

    ShareThrottle.cache = cache
    return ShareThrottle


def drf_attempt(throttle_class: "type[ScopedRateThrottle]", ident: str) -> Callable[[], bool]:
    """One request by the user `ident`: a new throttle instance per request, as DRF makes them."""
    request = cast(Any, SimpleNamespace(user=SimpleNamespace(is_authenticated=True, pk=ident), META={}))
    view = cast(Any, SimpleNamespace(throttle_scope=THROTTLE_SCOPE))

    def attempt() -> bool:
        return throttle_class().allow_request(request, view)

    return attempt


def drf_cache_key(ident: str) -> str:
    """The key ScopedRateThrottle uses for `ident`, before the cache adds its prefix and version."""
    from rest_framework.throttling import ScopedRateThrottle

    return ScopedRateThrottle.cache_format % {"scope": THROTTLE_SCOPE, "ident": ident}
