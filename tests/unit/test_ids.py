"""Identifiers: 32 lower-case hex digits, unique across calls, threads and forks."""

from __future__ import annotations

import os
import re
import threading

import pytest

from tessera import ids
from tessera.ids import new_id

pytestmark = pytest.mark.unit

HEX32 = re.compile(r"[0-9a-f]{32}")


def test_format() -> None:
    for _ in range(100):
        assert HEX32.fullmatch(new_id())


def test_unique_across_many_calls() -> None:
    values = [new_id() for _ in range(30_000)]
    assert len(set(values)) == len(values)


def test_ids_of_one_process_share_a_prefix_and_count_up() -> None:
    a, b = new_id(), new_id()
    assert a[:16] == b[:16]
    assert int(b[16:], 16) > int(a[16:], 16)


def test_unique_across_threads() -> None:
    results: list[list[str]] = [[] for _ in range(8)]
    barrier = threading.Barrier(8)

    def work(out: list[str]) -> None:
        barrier.wait()
        out.extend(new_id() for _ in range(5_000))

    threads = [threading.Thread(target=work, args=(out,)) for out in results]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    everything = [value for out in results for value in out]
    assert len(everything) == 40_000
    assert len(set(everything)) == len(everything)


def test_reseeding_changes_the_prefix_and_restarts_the_counter() -> None:
    before = new_id()
    ids._reseed_after_fork()
    after = new_id()
    assert before[:16] != after[:16]
    assert int(after[16:], 16) == 1
    assert ids._pid == os.getpid()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_gets_its_own_prefix() -> None:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report one id and leave at once
        try:
            os.write(write, new_id().encode())
        finally:
            os._exit(0)
    os.close(write)
    try:
        child = os.read(read, 64).decode()
    finally:
        os.close(read)
        os.waitpid(pid, 0)
    parent = new_id()
    assert HEX32.fullmatch(child)
    assert child[:16] != parent[:16]
