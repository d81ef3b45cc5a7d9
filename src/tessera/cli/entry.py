"""The ``tessera`` console script: for ``serve``, one re-exec before anything is imported; then the CLI."""

from __future__ import annotations

import os
import sys

HUGE_PAGES_TUNABLE = "glibc.malloc.hugetlb=1"


def main() -> None:
    if "serve" in sys.argv[1:]:
        restart_with_huge_pages_for_malloc()
    from tessera.cli.main import main as cli_main

    cli_main()


def restart_with_huge_pages_for_malloc() -> None:
    """Re-exec once with glibc's ``hugetlb`` malloc tunable (glibc 2.35+), before the CLI is imported.

    ``tessera serve`` fixes glibc's mmap threshold so that argon2id's 19 MiB block goes back to the
    OS after each password check (idle RSS); mmapped in 4 KiB pages that block costs ~4,900 page
    faults per check (measured: 35+13 ms of CPU instead of 23+0.3 ms). With the tunable glibc asks
    for transparent huge pages (``madvise`` mode, the Debian default): 23+2 ms. Tunables are read at
    process start only, hence the re-exec, here, where it costs an interpreter start and not the
    CLI's imports (~1 s). Only on glibc, and never twice.
    """
    tunables = os.environ.get("GLIBC_TUNABLES", "")
    if HUGE_PAGES_TUNABLE in tunables or not sys.platform.startswith("linux") or not hasattr(sys, "orig_argv"):
        return
    import platform

    if platform.libc_ver()[0] != "glibc":
        return
    os.environ["GLIBC_TUNABLES"] = f"{tunables}:{HUGE_PAGES_TUNABLE}" if tunables else HUGE_PAGES_TUNABLE
    os.execv(sys.executable, [sys.executable, *sys.orig_argv[1:]])  # noqa: S606 - the same program, again


__all__ = ["main", "restart_with_huge_pages_for_malloc"]
