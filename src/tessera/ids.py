"""Cheap unique identifiers for events, requests and token ids.

A per-process random prefix (64 bits) plus a counter: unique across nodes and restarts without a
system call per id. These ids identify; they do not authenticate, so they need not be secret.
Secrets and codes use ``secrets`` instead.
"""

from __future__ import annotations

import itertools
import os
import threading

_lock = threading.Lock()
_prefix = os.urandom(8).hex()
_counter = itertools.count(1)
_pid = os.getpid()


def _reseed_after_fork() -> None:
    global _prefix, _counter, _pid
    with _lock:
        _prefix, _counter, _pid = os.urandom(8).hex(), itertools.count(1), os.getpid()


os.register_at_fork(after_in_child=_reseed_after_fork)


def new_id() -> str:
    """32 lower-case hex digits, unique."""
    return f"{_prefix}{next(_counter):016x}"


__all__ = ["new_id"]
