"""Process bookkeeping for the benchmark: start, watch and always stop the servers; idle-CPU waits; RSS.

Every server the benchmark starts is registered in a ``Processes`` object, which kills all of them when
the ``with`` block ends, whatever ended it (an error, Ctrl-C, SIGTERM).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType, TracebackType


class BenchError(RuntimeError):
    """A failure that must stop the benchmark (a server that does not start, a failed verification...)."""


@dataclass
class Server:
    """A running server: its pid, where it logs, and the Popen when we are its parent."""

    name: str
    pid: int
    log: Path
    popen: subprocess.Popen[bytes] | None = None

    def alive(self) -> bool:
        if self.popen is not None:
            return self.popen.poll() is None
        return pid_alive(self.pid)

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


class Processes:
    """Context manager owning every server started by the benchmark."""

    def __init__(self) -> None:
        self._servers: dict[str, Server] = {}

    def __enter__(self) -> Processes:
        for sig in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, _raise_exit)
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop_all()

    def spawn(self, name: str, argv: Sequence[str], env: Mapping[str, str], log: Path) -> Server:
        """Start ``argv`` in its own session, output to ``log``."""
        with log.open("ab") as out:
            out.write(f"=== {time.strftime('%H:%M:%S')} {' '.join(argv)}\n".encode())
            out.flush()
            popen = subprocess.Popen(
                list(argv), env=dict(env), stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        return self._register(Server(name, popen.pid, log, popen))

    def adopt(self, name: str, script: Sequence[str], env: Mapping[str, str], log: Path) -> Server:
        """Run a kit ``start.sh`` (which backgrounds the server and prints its pid) and own that pid."""
        out = subprocess.run(list(script), env=dict(env), capture_output=True, text=True, check=False)
        if out.returncode != 0 or not out.stdout.strip().isdigit():
            raise BenchError(f"{name}: {' '.join(script)} failed: {out.stderr.strip() or out.stdout.strip()}")
        return self._register(Server(name, int(out.stdout.strip()), log))

    def stop(self, name: str) -> None:
        server = self._servers.pop(name, None)
        if server is not None:
            _terminate(server)

    def stop_all(self) -> None:
        for name in list(self._servers):
            self.stop(name)

    def get(self, name: str) -> Server:
        return self._servers[name]

    def all(self) -> list[Server]:
        return list(self._servers.values())

    def check_alive(self) -> None:
        for server in self._servers.values():
            if not server.alive():
                raise BenchError(f"{server.name} (pid {server.pid}) died; last log lines:\n{server.log_tail()}")

    def _register(self, server: Server) -> Server:
        if server.name in self._servers:
            raise BenchError(f"{server.name} is already running")
        self._servers[server.name] = server
        return server


def _raise_exit(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def pid_alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _terminate(server: Server, grace: float = 5.0) -> None:
    """SIGTERM, then SIGKILL after ``grace`` seconds; only this pid (and its children, if any)."""
    children = child_pids(server.pid)
    for pid, sig in ((server.pid, signal.SIGTERM), *((c, signal.SIGTERM) for c in children)):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(pid_alive(p) for p in (server.pid, *children)):
        if server.popen is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                server.popen.wait(timeout=0.1)
        else:
            time.sleep(0.1)
    for pid in (server.pid, *children):
        if pid_alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    if server.popen is not None:
        server.popen.wait()


def child_pids(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


# --- readiness ------------------------------------------------------------------------------------
def port_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        return sock.connect_ex((host, port)) != 0


def wait_http_ok(url: str, server: Server, timeout: float = 60.0, interval: float = 0.02) -> float:
    """Poll ``url`` until it answers 2xx; returns the monotonic time it first did."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if http_ok(url):
            return time.monotonic()
        if not server.alive():
            raise BenchError(f"{server.name} exited during start-up; last log lines:\n{server.log_tail()}")
        time.sleep(interval)
    raise BenchError(f"{server.name}: {url} did not answer within {timeout:.0f} s\n{server.log_tail()}")


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return 200 <= int(response.status) < 300
    except (urllib.error.URLError, OSError):
        return False


def wait_port(port: int, server: Server, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not port_free(port):
            return
        if not server.alive():
            raise BenchError(f"{server.name} exited during start-up; last log lines:\n{server.log_tail()}")
        time.sleep(0.1)
    raise BenchError(f"{server.name}: port {port} never opened\n{server.log_tail()}")


# --- CPU and memory -------------------------------------------------------------------------------
def _cpu_times(cpu: int) -> tuple[int, int]:
    """(busy, total) jiffies of one core since boot."""
    for line in Path("/proc/stat").read_text().splitlines():
        fields = line.split()
        if fields[0] == f"cpu{cpu}":
            values = [int(v) for v in fields[1:9]]
            idle = values[3] + values[4]
            return sum(values) - idle, sum(values)
    raise BenchError(f"cpu{cpu} not in /proc/stat")


def cpu_busy(cpu: int, window: float = 0.5) -> float:
    """Percent busy of ``cpu`` over ``window`` seconds (as run_all.sh's cpu_busy)."""
    busy0, total0 = _cpu_times(cpu)
    time.sleep(window)
    busy1, total1 = _cpu_times(cpu)
    return 100.0 * (busy1 - busy0) / (total1 - total0) if total1 > total0 else 0.0


@dataclass(frozen=True)
class IdleWait:
    waited_s: float
    busy_pct: float  # last measurement; >= threshold means we gave up waiting
    busy_with: str = ""  # the processes that kept the core busy, when we gave up

    @property
    def idle(self) -> bool:
        return self.busy_pct < IDLE_THRESHOLD_PCT


IDLE_THRESHOLD_PCT = 10.0


def wait_idle(cpu: int, timeout: float, log: Callable[[str], None]) -> IdleWait:
    """Wait until ``cpu`` is < 10% busy over 0.5 s, so a server's backlog never bleeds into the next run."""
    start = time.monotonic()
    busy = cpu_busy(cpu)
    while busy >= IDLE_THRESHOLD_PCT and time.monotonic() - start < timeout:
        busy = cpu_busy(cpu)
    waited = time.monotonic() - start
    if busy < IDLE_THRESHOLD_PCT:
        return IdleWait(waited, busy)
    culprits = ", ".join(f"{name} (pid {pid}) {pct:.0f}%" for pct, pid, name in top_consumers(cpu))
    log(f"warning: core {cpu} still {busy:.0f}% busy after {waited:.0f} s, by {culprits or '?'}; running anyway")
    return IdleWait(waited, busy, culprits)


def _process_times() -> dict[int, tuple[str, int, int]]:
    """pid -> (command name, utime+stime jiffies, last cpu)."""
    out = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            text = (entry / "stat").read_text()
        except OSError:
            continue
        name, fields = text[text.index("(") + 1 : text.rindex(")")], text[text.rindex(")") + 2 :].split()
        out[int(entry.name)] = (name, int(fields[11]) + int(fields[12]), int(fields[36]))
    return out


def top_consumers(cpu: int, window: float = 1.0, count: int = 3) -> list[tuple[float, int, str]]:
    """The processes that used the most CPU over ``window`` seconds and last ran on ``cpu``."""
    before = _process_times()
    time.sleep(window)
    after = _process_times()
    hz = os.sysconf("SC_CLK_TCK")
    used = [
        (100.0 * (ticks - before[pid][1]) / hz / window, pid, name)
        for pid, (name, ticks, last) in after.items()
        if pid in before and last == cpu and ticks > before[pid][1]
    ]
    return sorted(used, reverse=True)[:count]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time used so far by ``pid`` (all its threads) and its children."""
    ticks = 0
    for p in (pid, *child_pids(pid)):
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def rss_kib(pid: int, field: str = "VmRSS") -> int:
    """Resident set of ``pid`` plus its children (KiB); ``field`` = VmRSS or VmHWM (peak)."""
    total = 0
    for p in (pid, *child_pids(pid)):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith(field + ":"):
                    total += int(line.split()[1])
    return total


@contextlib.contextmanager
def pinned(cpu: int) -> Iterator[None]:
    """Run this process (the load driver) on ``cpu``; children inherit it unless they taskset themselves."""
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {cpu})
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)
