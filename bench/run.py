"""Tessera's benchmark: token, introspection, refresh, login and STS throughput on one server core, next
to the HTTP floor and node-oidc-provider measured in the same run. Writes docs/benchmarks.md; raw
results go to bench/results/.

    .venv/bin/python bench/run.py [--rounds 3] [--duration 10] [--quick]
    .venv/bin/python bench/run.py --report bench/results/<stamp>     # re-render the doc only

See bench/README.md. Runs with Tessera's venv (its dev extras: httpx signs people in, botocore signs
SigV4 requests); the servers run from their own environments.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import login_load
import report
import versions
from harness import BenchError, Processes, cpu_seconds, pinned, rss_kib, wait_idle
from load import Load, WrkResult, describe, run_wrk
from scenarios import REFERENCES, Scenario, by_name
from targets import (
    PASSWORD,
    SECRET,
    Cpus,
    Paths,
    Peers,
    Postgres,
    TesseraNode,
    audit_counts,
    audit_mark,
    check_ports_free,
    create_aws_key,
    ensure_peers,
    hash_password,
    hash_secret,
    measure_password_check,
    new_kek,
    preflight,
    serve_command,
    start_floor,
    start_node,
    start_node_refresh,
    start_tessera,
    write_config,
)

REPO = Path(__file__).resolve().parent.parent
BACKENDS = ("sqlite", "postgresql")
DEFAULT_PG_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


@dataclass(frozen=True)
class Options:
    rounds: int
    duration: float
    warmup: float
    conns: tuple[int, ...]
    backends: tuple[str, ...]
    scenarios: tuple[Scenario, ...]
    startup_samples: int
    idle_timeout: float
    quick: bool
    pg_url: str
    base_port: int
    cpus: Cpus
    doc: Path
    strict: bool


@dataclass(frozen=True)
class Target:
    """One system loaded in a scenario: a Tessera node or a reference."""

    system: str
    server: str
    prepare: Callable[[Load | None, int], Load]  # (the scenario's Tessera load, connections) -> this load
    node: TesseraNode | None = None


@dataclass(frozen=True)
class Outcome:
    target: Target
    conns: int
    load: Load
    result: WrkResult
    conditions: dict[str, float]  # idle wait before the run, server CPU during it


@dataclass
class Bench:
    opts: Options
    paths: Paths
    procs: Processes
    pg: Postgres | None
    results: dict[str, Any] = field(default_factory=dict)
    nodes: list[TesseraNode] = field(default_factory=list)

    # --- plumbing --------------------------------------------------------------------------------
    def log(self, message: str) -> None:
        line = f"{datetime.now(UTC):%H:%M:%S} {message}"
        print(line, file=sys.stderr, flush=True)
        with (self.paths.results / "run.log").open("a") as out:
            out.write(line + "\n")

    def idle(self, before: str) -> dict[str, float]:
        waited = wait_idle(self.opts.cpus.server, self.opts.idle_timeout, self.log)
        if not waited.idle:
            self.results["not_idle"].append(f"{before}: {waited.busy_pct:.0f}% busy, by {waited.busy_with or '?'}")
        return {"idle_wait_s": round(waited.waited_s, 1), "core_busy_pct": round(waited.busy_pct, 1)}

    @property
    def peers(self) -> Peers:
        port = self.opts.base_port
        return Peers(floor_port=port + 2, node_jwt_port=port + 3, node_opaque_port=port + 4, node_refresh_port=port + 5)

    # --- set-up ----------------------------------------------------------------------------------
    def prepare_nodes(self) -> None:
        secret_hash, password_hash = hash_secret(self.paths, SECRET), hash_password(self.paths, PASSWORD)
        kek = new_kek()
        for offset, backend in enumerate(self.opts.backends):
            node = TesseraNode(backend, self.opts.base_port + offset, self.paths.work / backend)
            node.env["TESSERA_KEYS__KEK"] = kek
            if backend == "postgresql":
                assert self.pg is not None
                node.storage_url, node.schema = self.pg.url, self.pg.create_schema()
                self.results["pg_schemas"].append(node.schema)
                self.log(f"created PostgreSQL schema {node.schema}")
            write_config(node, secret_hash, password_hash)
            self.nodes.append(node)

    def measure_startup(self) -> None:
        """Process start until /healthz answers 200: the first start (empty store), then warm starts."""
        for node in self.nodes:
            samples = self.opts.startup_samples if node.backend == "sqlite" else 1
            for kind in ["first"] + ["initialised"] * samples:
                self.idle(f"start-up {node.name}")
                _server, seconds = start_tessera(self.procs, self.paths, self.opts.cpus, node)
                self.procs.stop(node.name)
                self.results["startup"].append({"backend": node.backend, "kind": kind, "seconds": round(seconds, 3)})
                self.log(f"start-up {node.name} ({kind} store): {seconds:.2f} s")

    def provision(self) -> None:
        """What the CLI creates on an initialised store: the AWS access key (shown once)."""
        for node in self.nodes:
            node.aws_key = create_aws_key(self.paths, node)
            self.log(f"created AWS access key {node.aws_key.key_id} on {node.name}")

    def password_check(self) -> None:
        """argon2id verifications alone, on the server core, with the server's parameters (login only)."""
        if not any(s.name == "login" for s in self.opts.scenarios):
            return
        self.idle("password check")
        check = measure_password_check(self.paths, self.opts.cpus, self.nodes[0], 10 if self.opts.quick else 30)
        self.results["password_check"] = check
        self.log(f"password check: {check['cpu_ms_median']:.1f} ms CPU ({check['parameters']})")

    def start_servers(self) -> None:
        check_ports_free([n.port for n in self.nodes] + [self.peers.floor_port, *self._node_ports()])
        servers = self.results["servers"]
        for node in self.nodes:
            server, seconds = start_tessera(self.procs, self.paths, self.opts.cpus, node)
            servers[node.name] = serve_command(self.paths, self.opts.cpus, node)
            self.results["configs"][node.name] = node.config.read_text()
            self.log(f"started {node.name} pid {server.pid} in {seconds:.2f} s")
        needed = {REFERENCES[r].server for s in self.opts.scenarios for r in s.references}
        cpus, peers = self.opts.cpus, self.peers
        if "floor-starlette" in needed:
            servers["floor-starlette"] = start_floor(self.procs, self.paths, cpus, peers.floor_port)
        if "node-jwt" in needed:
            servers["node-jwt"] = start_node(self.procs, self.paths, cpus, peers.node_jwt_port, "jwt")
        if "node-opaque" in needed:
            servers["node-opaque"] = start_node(self.procs, self.paths, cpus, peers.node_opaque_port, "opaque")
        if "node-refresh" in needed:
            servers["node-refresh"] = start_node_refresh(self.procs, self.paths, cpus, peers.node_refresh_port)
        time.sleep(1.0)
        for server in self.procs.all():
            self.results["memory"][server.name] = {"after_start_kib": rss_kib(server.pid)}
            self.log(f"running {server.name} pid {server.pid}")

    def _node_ports(self) -> list[int]:
        return [self.peers.node_jwt_port, self.peers.node_opaque_port, self.peers.node_refresh_port]

    # --- targets ---------------------------------------------------------------------------------
    def targets(self, scenario: Scenario) -> list[Target]:
        out = [Target(n.name, n.name, partial(_tessera_prepare, scenario, n), n) for n in self.nodes]
        for name in scenario.references:
            ref = REFERENCES[name]
            out.append(Target(ref.name, ref.server, _reference_prepare(ref.prepare, self.peers)))
        return out

    def verify(self) -> None:
        for scenario in self.opts.scenarios:
            mirror = None
            for node in self.nodes:
                self._verified(f"{scenario.name}/{node.name}", partial(scenario.verify, self.paths, node))
                mirror = scenario.prepare(node, 1)
            assert mirror is not None
            for name in scenario.references:
                check = partial(REFERENCES[name].verify, self.paths, self.peers, mirror)
                self._verified(f"{scenario.name}/{name}", check)

    def _verified(self, label: str, check: Callable[[], str]) -> None:
        output = check()
        self.results["verification"][label] = output
        self.log(f"verified {label}: {output.splitlines()[0][:120] if output else ''}")

    # --- load ------------------------------------------------------------------------------------
    def run_one(
        self, scenario: Scenario, target: Target, load: Load, conns: int, seconds: float
    ) -> tuple[WrkResult, float]:
        """One run; its result and the CPU seconds the server used meanwhile (all its threads)."""
        self.procs.check_alive()
        pid = self.procs.get(target.server).pid
        mark = audit_mark(target.node, self.pg) if target.node is not None else 0
        cpu_before = cpu_seconds(pid)
        if load.login is not None:
            result = login_load.run_logins(load.login, conns, seconds)
        else:
            result = run_wrk(self.paths.lua, load, conns, seconds, self.opts.cpus.load)
        cpu = cpu_seconds(pid) - cpu_before
        self.procs.check_alive()
        if target.node is not None:
            self._count_audit(f"{target.node.name}/{scenario.name}", result, audit_counts(target.node, self.pg, mark))
        if result.errors:
            self._loud_error(target, conns, result)
        return result, cpu

    def _count_audit(self, key: str, result: WrkResult, written: dict[str, int]) -> None:
        """The answers of a run and the audit rows written during it (every run, warm-up included)."""
        self.results["requests"][key] = self.results["requests"].get(key, 0) + result.answered
        rows = self.results["audit_runs"].setdefault(key, {})
        for action, count in written.items():
            rows[action] = rows.get(action, 0) + count

    def _loud_error(self, target: Target, conns: int, result: WrkResult) -> None:
        message = (
            f"ERRORS {target.system} c={conns}: {result.non2xx} non-2xx (last status {result.last_bad_status}), "
            f"{result.sockerr} socket errors, {result.timeouts} timeouts"
        )
        self.results["errors"].append(message)
        self.log("!" * 20 + " " + message + "\n" + self.procs.get(target.server).log_tail(10))

    def sweep(self, scenario: Scenario, conns: tuple[int, ...], seconds: float, label: str) -> Iterator[Outcome]:
        """Every target of ``scenario`` in turn, at each of ``conns``; the floor repeats Tessera's request."""
        mirror: Load | None = None
        for target in self.targets(scenario):
            for count in conns:
                conditions = self.idle(f"{label} {scenario.name} {target.system} c={count}")
                load = target.prepare(mirror, count)
                mirror = mirror or load
                result, cpu = self.run_one(scenario, target, load, count, seconds)
                yield Outcome(target, count, load, result, {**conditions, "server_cpu_s": round(cpu, 2)})

    def conns_of(self, scenario: Scenario) -> tuple[int, ...]:
        return scenario.conns or self.opts.conns

    def warm_up(self) -> None:
        if self.opts.warmup <= 0:
            return
        for scenario in self.opts.scenarios:
            for out in self.sweep(scenario, (max(self.conns_of(scenario)),), self.opts.warmup, "warm-up"):
                unit = scenario.unit if out.target.node else "req/s"
                self.log(f"warm-up {scenario.name} {out.target.system}: {out.result.rps:,.1f} {unit}")

    def run_rounds(self) -> None:
        for round_no in range(1, self.opts.rounds + 1):
            for scenario in self.opts.scenarios:
                for out in self.sweep(scenario, self.conns_of(scenario), self.opts.duration, f"round {round_no}"):
                    self._record(round_no, scenario, out)

    def _record(self, round_no: int, scenario: Scenario, out: Outcome) -> None:
        result, system = out.result, out.target.system
        row = {"round": round_no, "scenario": scenario.name, "system": system, "conns": out.conns}
        self.results["runs"].append({**row, **result.as_dict(), **out.conditions})
        self.results["commands"][f"{scenario.name}/{system}"] = self._command(out)
        cpu_ms = 1000 * out.conditions["server_cpu_s"] / max(result.answered, 1)
        unit = scenario.unit if out.target.node else "req/s"
        self.log(
            f"round {round_no} {scenario.name} {system} c={out.conns}: {result.rps:,.1f} {unit} "
            f"p50 {result.p50_ms:.1f} ms p99 {result.p99_ms:.1f} ms errors {result.errors} "
            f"server CPU {cpu_ms:.2f} ms per answer"
        )

    def _command(self, out: Outcome) -> str:
        cpu, seconds = self.opts.cpus.load, self.opts.duration
        if out.load.login is not None:
            return login_load.command(out.load.login.issuer, out.conns, seconds, cpu)
        return describe(self.paths.lua, out.load, out.conns, seconds, cpu)

    # --- after the runs --------------------------------------------------------------------------
    def audit_before(self) -> None:
        for node in self.nodes:
            self.results["audit"][node.name] = {"before": audit_counts(node, self.pg)}

    def finish(self) -> None:
        self.idle("memory after the runs")
        time.sleep(2.0)
        for node in self.nodes:
            pid = self.procs.get(node.name).pid
            self.results["memory"][node.name].update(after_runs_kib=rss_kib(pid), peak_kib=rss_kib(pid, "VmHWM"))
            self.results["audit"][node.name]["after"] = audit_counts(node, self.pg)
        for server in self.procs.all():
            if not server.name.startswith("tessera-"):
                memory = self.results["memory"].setdefault(server.name, {})
                memory.update(after_runs_kib=rss_kib(server.pid), peak_kib=rss_kib(server.pid, "VmHWM"))


# the peer kit sits beside the repository (../shared/bench-peers), unless BENCH_KIT says otherwise
DEFAULT_KIT = str(Path(__file__).resolve().parents[2] / "shared" / "bench-peers")


def _tessera_prepare(scenario: Scenario, node: TesseraNode, _mirror: Load | None, conns: int) -> Load:
    return scenario.prepare(node, conns)


def _reference_prepare(prepare: Callable[[Peers, Load, int], Load], peers: Peers) -> Callable[[Load | None, int], Load]:
    def run(mirror: Load | None, conns: int) -> Load:
        if mirror is None:
            raise BenchError("a reference needs the scenario's Tessera request first")
        return prepare(peers, mirror, conns)

    return run


# --- command line ---------------------------------------------------------------------------------
def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=None, help="interleaved rounds (default 3; --quick: 1)")
    p.add_argument("--duration", type=float, default=None, help="seconds per run (default 10; --quick: 3)")
    p.add_argument("--warmup", type=float, default=None, help="warm-up seconds per target at max conns (3; quick 1)")
    p.add_argument("--conns", default="16,64", help="connection counts (default 16,64)")
    p.add_argument("--quick", action="store_true", help="smoke run: 1 round x 3 s, short idle waits")
    p.add_argument("--backends", default=",".join(BACKENDS), help="sqlite,postgresql (default both)")
    p.add_argument("--scenarios", default="", help="comma list (default all)")
    p.add_argument("--startup-samples", type=int, default=None, help="warm SQLite starts timed (5; quick 3)")
    p.add_argument("--idle-timeout", type=float, default=None, help="max wait for an idle server core (90; quick 20)")
    p.add_argument("--pg-url", default=os.environ.get("BENCH_PG_URL", DEFAULT_PG_URL), help="PostgreSQL to use")
    p.add_argument("--base-port", type=int, default=18040, help="Tessera ports from here; references +2..+4")
    p.add_argument("--server-cpu", type=int, default=0)
    p.add_argument("--load-cpu", type=int, default=1)
    p.add_argument("--kit", type=Path, default=Path(os.environ.get("BENCH_KIT", DEFAULT_KIT)))
    p.add_argument("--perf-work", type=Path, default=Path(os.environ.get("PERF_WORK", "/tmp/perf-peers")))
    p.add_argument("--doc", type=Path, default=REPO / "docs" / "benchmarks.md", help="the report to write")
    p.add_argument("--report", type=Path, default=None, help="only re-render the doc from a results directory")
    p.add_argument("--strict", action="store_true", help="exit 2 when a target is not met")
    return p


def parse_args(argv: list[str]) -> tuple[Options, argparse.Namespace]:
    p = parser()
    a = p.parse_args(argv)
    backends = tuple(b for b in a.backends.split(",") if b)
    if set(backends) - set(BACKENDS) or not backends:
        p.error(f"--backends takes {','.join(BACKENDS)}")
    try:
        scenarios = by_name([s for s in a.scenarios.split(",") if s])
        conns = tuple(int(c) for c in a.conns.split(","))
    except (BenchError, ValueError) as exc:
        p.error(str(exc))
    quick = bool(a.quick)
    opts = Options(
        rounds=a.rounds or (1 if quick else 3),
        duration=a.duration or (3 if quick else 10),
        warmup=a.warmup if a.warmup is not None else (1 if quick else 3),
        conns=conns,
        backends=backends,
        scenarios=scenarios,
        startup_samples=a.startup_samples or (3 if quick else 5),
        idle_timeout=a.idle_timeout or (20 if quick else 90),
        quick=quick,
        pg_url=a.pg_url,
        base_port=a.base_port,
        cpus=Cpus(a.server_cpu, a.load_cpu),
        doc=a.doc,
        strict=a.strict,
    )
    return opts, a


def new_results(opts: Options, argv: list[str]) -> dict[str, Any]:
    return {
        "meta": {
            "started": datetime.now(UTC).isoformat(timespec="seconds"),
            "argv": argv,
            "quick": opts.quick,
            "rounds": opts.rounds,
            "duration": opts.duration,
            "warmup": opts.warmup,
            "conns": list(opts.conns),
            "backends": list(opts.backends),
            "scenarios": [s.name for s in opts.scenarios],
            "cpus": {"server": opts.cpus.server, "load": opts.cpus.load},
            "idle_timeout": opts.idle_timeout,
            "loadavg_start": os.getloadavg(),
        },
        "runs": [],
        "startup": [],
        "memory": {},
        "audit": {},
        "audit_runs": {},
        "requests": {},
        "verification": {},
        "commands": {},
        "servers": {},
        "configs": {},
        "errors": [],
        "pg_schemas": [],
        "not_idle": [],
    }


def execute(bench: Bench) -> None:
    preflight(bench.paths, bench.opts.cpus, bench.pg is not None)
    ensure_peers(bench.paths, bench.opts.cpus, bench.results.setdefault("setup", []))
    bench.results["versions"] = versions.collect(bench.paths, bench.pg)
    bench.results["machine"] = versions.machine()
    bench.prepare_nodes()
    bench.measure_startup()
    bench.provision()
    bench.password_check()
    bench.start_servers()
    bench.verify()
    bench.audit_before()
    bench.warm_up()
    bench.run_rounds()
    bench.finish()


def save(bench: Bench) -> Path:
    bench.results["meta"]["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
    bench.results["meta"]["loadavg_end"] = os.getloadavg()
    path = bench.paths.results / "results.json"
    path.write_text(json.dumps(bench.results, indent=1))
    report.write_tsv(bench.results, bench.paths.results / "raw.tsv")
    return path


def drop_schemas(bench: Bench) -> None:
    if bench.pg is None:
        return
    for schema in bench.results["pg_schemas"]:
        try:
            bench.pg.drop_schema(schema)
            bench.log(f"dropped PostgreSQL schema {schema}")
        except BenchError as exc:
            bench.log(f"warning: could not drop schema {schema}: {exc}")


def benchmark(opts: Options, args: argparse.Namespace, argv: list[str]) -> int:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + ("-quick" if opts.quick else "")
    results_dir = REPO / "bench" / "results" / stamp
    results_dir.mkdir(parents=True)
    work = Path(tempfile.mkdtemp(prefix="tessera-bench-"))
    paths = Paths(REPO, args.kit.resolve(), args.perf_work, work, results_dir)
    pg = Postgres(opts.pg_url) if "postgresql" in opts.backends else None
    with Processes() as procs:
        bench = Bench(opts, paths, procs, pg, new_results(opts, argv))
        try:
            with pinned(opts.cpus.load):
                execute(bench)
        except BenchError as exc:
            bench.results["errors"].append(f"ABORTED: {exc}")
            bench.log(f"ABORTED: {exc}")
        except (KeyboardInterrupt, SystemExit):
            bench.results["errors"].append("ABORTED: interrupted")
            bench.log("interrupted: stopping every server")
            raise
        finally:
            procs.stop_all()
            drop_schemas(bench)
            shutil.rmtree(work, ignore_errors=True)
            results_file = save(bench)
    if any(e.startswith("ABORTED") for e in bench.results["errors"]):
        bench.log(f"no report written; partial results in {results_file}")
        return 1
    return finish_report(bench, results_file, opts)


def finish_report(bench: Bench, results_file: Path, opts: Options) -> int:
    checks = report.render_to(results_file, opts.doc)
    bench.log(f"wrote {opts.doc} and {results_file}")
    for check in checks:
        bench.log(f"{'PASS' if check.passed else 'FAIL'} {check.name}: {check.measured}")
    if bench.results["errors"]:
        bench.log("FAILED: " + "; ".join(bench.results["errors"]))
        return 1
    return 2 if opts.strict and not all(c.passed for c in checks) else 0


def main(argv: list[str]) -> int:
    opts, args = parse_args(argv)
    if args.report is not None:
        checks = report.render_to(args.report / "results.json", opts.doc)
        print(f"wrote {opts.doc}: " + ", ".join(f"{c.name} {'PASS' if c.passed else 'FAIL'}" for c in checks))
        return 0
    return benchmark(opts, args, argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
