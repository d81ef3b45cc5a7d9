"""Closed-loop load of full logins (password check included): ``conns`` browsers, each a different
person of the bench tenant (``bench-<i>``) from the same address, signing in again as soon as its
last login ended, with a fresh cookie jar every time (wrk cannot follow a three-step flow).
Prints the summary line of the wrk scripts, a login counting as one request.

    taskset -c 1 .venv/bin/python bench/login_load.py http://127.0.0.1:18040/t/default -c 16 -d 10

Logins still running at the end of the window are let finish (``drained``): they are neither in the
rate nor in the latencies, but the server CPU they cost is, so CPU per login = CPU / (logins + drained).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from dataclasses import dataclass, field, replace

import httpx
from load import WrkResult
from signin import FlowError, LoginFlow, sign_in
from targets import BROWSER_USERS, PASSWORD, REDIRECT_URI, USERNAME, WEB_CLIENT_ID, browser_username

LOGIN_SCOPE = "openid"


@dataclass
class Tally:
    deadline: float
    latencies_ms: list[float] = field(default_factory=list)
    failed: int = 0
    last_bad_status: int = 0
    sockerr: int = 0
    timeouts: int = 0
    drained: int = 0

    def record(self, started: float, outcome: int | None) -> None:
        """``outcome``: None for a login that reached the callback, else the HTTP status that ended it."""
        ended = time.monotonic()
        if ended > self.deadline:
            self.drained += 1
            return
        self.latencies_ms.append((ended - started) * 1000)
        if outcome is not None:
            self.failed, self.last_bad_status = self.failed + 1, outcome


async def browser(flow: LoginFlow, tally: Tally, request_timeout: float) -> None:
    """One keep-alive connection, one person; every login starts with an empty cookie jar."""
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    async with httpx.AsyncClient(timeout=request_timeout, limits=limits) as http:
        while time.monotonic() < tally.deadline:
            http.cookies.clear()
            started = time.monotonic()
            try:
                await sign_in(http, flow)
                tally.record(started, None)
            except FlowError as exc:
                tally.record(started, exc.status)
            except httpx.TimeoutException:
                tally.timeouts += 1
            except httpx.TransportError:
                tally.sockerr += 1


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return 0.0
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(pct) - 1]


async def run(flow: LoginFlow, conns: int, seconds: float, request_timeout: float = 30.0) -> WrkResult:
    tally = Tally(time.monotonic() + seconds)
    if conns > BROWSER_USERS:
        raise SystemExit(f"at most {BROWSER_USERS} browsers: the bench tenant declares one person per browser")
    flows = [replace(flow, username=browser_username(i)) for i in range(conns)]
    await asyncio.gather(*(browser(person, tally, request_timeout) for person in flows))
    done = len(tally.latencies_ms)
    return WrkResult(
        rps=done / seconds,
        p50_ms=percentile(tally.latencies_ms, 50),
        p99_ms=percentile(tally.latencies_ms, 99),
        non2xx=tally.failed,
        sockerr=tally.sockerr,
        timeouts=tally.timeouts,
        requests=done,
        last_bad_status=tally.last_bad_status,
        drained=tally.drained,
    )


def run_logins(flow: LoginFlow, conns: int, seconds: float) -> WrkResult:
    return asyncio.run(run(flow, conns, seconds))


def command(issuer: str, conns: int, seconds: float, cpu: int) -> str:
    """The shell command equivalent to one run (for the report)."""
    return f"taskset -c {cpu} .venv/bin/python bench/login_load.py {issuer} -c {conns} -d {seconds:g}"


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("issuer", help="the tenant's issuer, e.g. http://127.0.0.1:18040/t/default")
    p.add_argument("-c", "--conns", type=int, default=4, help="concurrent browsers")
    p.add_argument("-d", "--duration", type=float, default=10.0, help="seconds")
    p.add_argument("--client-id", default=WEB_CLIENT_ID)
    p.add_argument("--redirect-uri", default=REDIRECT_URI)
    p.add_argument("--scope", default=LOGIN_SCOPE)
    a = p.parse_args(argv)
    password = os.environ.get("BENCH_PASSWORD", PASSWORD)
    flow = LoginFlow(a.issuer.rstrip("/"), a.client_id, a.redirect_uri, a.scope, USERNAME, password)
    r = run_logins(flow, a.conns, a.duration)
    print(
        f"rps={r.rps:.1f} p50_ms={r.p50_ms:.2f} p99_ms={r.p99_ms:.2f} non2xx={r.non2xx} sockerr={r.sockerr} "
        f"timeouts={r.timeouts} requests={r.requests} last_bad_status={r.last_bad_status} drained={r.drained}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
