"""Turns a run's ``results.json`` into figures, target checks and ``docs/benchmarks.md``.

Figures follow the peer kit's ``summarize.py``: median over rounds with min-max, and ratios computed
per round (same round, same scenario, same connection count) whose median is reported.
"""

from __future__ import annotations

import csv
import json
import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import Any

from scenarios import REFERENCES, SCENARIOS, Scenario

TEMPLATE = Path(__file__).with_name("benchmarks.md.in")
REPO = Path(__file__).resolve().parent.parent
TSV_COLUMNS = (
    "round",
    "scenario",
    "system",
    "conns",
    "rps",
    "p50_ms",
    "p99_ms",
    "non2xx",
    "sockerr",
    "timeouts",
    "requests",
    "last_bad_status",
    "idle_wait_s",
    "core_busy_pct",
    "server_cpu_s",
    "drained",
)
TARGET_CONNS = 64
FLOOR = "floor-starlette"
MIB = 1024
REFRESH_VS_CC = 0.9  # "refresh grants at the same rate as client credentials": within 10%, the run's noise
PASSWORD_CHECK_MS = 30.0
ABOUT = 1.1  # "at most ~30 ms": 10% over still counts as about 30

Run = dict[str, Any]


# --- figures ---------------------------------------------------------------------------------------
def runs_of(results: dict[str, Any], scenario: str, system: str, conns: int) -> list[Run]:
    return [r for r in results["runs"] if r["scenario"] == scenario and r["system"] == system and r["conns"] == conns]


def ratios(results: dict[str, Any], scenario: str, system: str, reference: str, conns: int) -> list[float]:
    """``system``'s req/s over ``reference``'s, per round."""
    return scenario_ratios(results, (scenario, system), (scenario, reference), conns)


def scenario_ratios(results: dict[str, Any], this: tuple[str, str], that: tuple[str, str], conns: int) -> list[float]:
    """Per round, the rate of (scenario, system) ``this`` over the rate of ``that``, same connections."""
    ref = {r["round"]: r["rps"] for r in runs_of(results, *that, conns)}
    return [r["rps"] / ref[r["round"]] for r in runs_of(results, *this, conns) if ref.get(r["round"])]


def conns_of(results: dict[str, Any], scenario: str) -> list[int]:
    return sorted({r["conns"] for r in results["runs"] if r["scenario"] == scenario})


def cpu_ms(run: Run) -> float | None:
    """Server CPU per answer (ms): the server's CPU time during the run over the answers it gave."""
    answered = run["requests"] + run.get("drained", 0)
    return 1000 * run["server_cpu_s"] / answered if "server_cpu_s" in run and answered else None


def median_or_none(values: Iterable[float]) -> float | None:
    items = list(values)
    return statistics.median(items) if items else None


def spread(values: list[float], fmt: str) -> str:
    """``median (min-max)``, or the single value."""
    if not values:
        return "-"
    med = fmt.format(statistics.median(values))
    return med if len(values) == 1 else f"{med} ({fmt.format(min(values))}-{fmt.format(max(values))})"


def ratio_cell(values: list[float], reference: str, precise: bool = False) -> str:
    """Against the floor as a percentage, against a peer as a factor; ``precise`` for target checks."""
    if not values:
        return "-"
    if reference.startswith("floor"):
        percent = [100 * v for v in values]
        return spread(percent, "{:.1f}" if precise or statistics.median(percent) < 10 else "{:.0f}") + "%"
    return spread(values, "{:.2f}") + "x"


def systems_in(results: dict[str, Any], scenario: str) -> list[str]:
    return list(dict.fromkeys(r["system"] for r in results["runs"] if r["scenario"] == scenario))


def rate_format(values: list[float]) -> str:
    return "{:,.1f}" if values and statistics.median(values) < 100 else "{:,.0f}"


def scenario_table(results: dict[str, Any], scenario: str) -> str:
    found = _scenario(scenario)
    refs, unit = _references(scenario), found.unit if found else "req/s"
    rate = f"{unit} median (min-max)" if unit == "req/s" else f"{unit} (references: req/s) median (min-max)"
    head = ["system", "conns", rate, "p50 ms", "p99 ms", "non-2xx / socket err / timeouts", "server CPU ms per answer"]
    head += [f"vs {ref}" for ref in refs]
    lines = [_row(head), _row(["---"] * len(head))]
    for system in systems_in(results, scenario):
        for conns in conns_of(results, scenario):
            rows = runs_of(results, scenario, system, conns)
            if not rows:
                continue
            rates = [r["rps"] for r in rows]
            cells = [
                system,
                str(conns),
                spread(rates, rate_format(rates)),
                spread([r["p50_ms"] for r in rows], "{:.1f}"),
                spread([r["p99_ms"] for r in rows], "{:.1f}"),
                "/".join(str(sum(r[k] for r in rows)) for k in ("non2xx", "sockerr", "timeouts")),
                _cpu_cell(rows),
            ]
            cells += [
                "-" if ref == system else ratio_cell(ratios(results, scenario, system, ref, conns), ref) for ref in refs
            ]
            lines.append(_row(cells))
    return "\n".join(lines)


def _cpu_cell(rows: list[Run]) -> str:
    values = [v for v in (cpu_ms(r) for r in rows) if v is not None]
    return spread(values, "{:.1f}" if values and statistics.median(values) >= 10 else "{:.2f}") if values else "-"


def _scenario(name: str) -> Scenario | None:
    return next((s for s in SCENARIOS if s.name == name), None)


def _references(scenario: str) -> tuple[str, ...]:
    found = _scenario(scenario)
    return found.references if found else (FLOOR,)


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


# --- targets ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Check:
    name: str
    backend: str
    measured: str
    status: str  # PASS | FAIL | info

    @property
    def passed(self) -> bool:
        return self.status != "FAIL"


def _status(ok: bool | None) -> str:
    return "info" if ok is None else ("PASS" if ok else "FAIL")


def ratio_check(results: dict[str, Any], node: str, scenario: str, ref: str, minimum: float, name: str) -> Check:
    values = ratios(results, scenario, node, ref, TARGET_CONNS)
    med = median_or_none(values)
    measured = ratio_cell(values, ref, precise=True) if values else "not measured"
    return Check(name, node, measured, _status(med >= minimum if med is not None else False))


def p99_check(results: dict[str, Any], node: str) -> Check:
    values = [r["p99_ms"] for r in runs_of(results, "client-credentials", node, TARGET_CONNS)]
    med = median_or_none(values)
    measured = f"{spread(values, '{:.1f}')} ms" if values else "not measured"
    return Check(
        "client credentials p99 < 50 ms (c=64, median of rounds)", node, measured, _status(med is not None and med < 50)
    )


def error_check(results: dict[str, Any], node: str) -> Check:
    rows = [r for r in results["runs"] if r["system"] == node]
    errors = sum(r["non2xx"] + r["sockerr"] + r["timeouts"] for r in rows)
    total = sum(r["requests"] for r in rows)
    return Check(
        "zero errors (non-2xx + socket errors + timeouts, every run)",
        node,
        f"{errors} in {total:,} responses",
        _status(errors == 0 and bool(rows)),
    )


def audit_rows(results: dict[str, Any], node: str, scenario: str) -> tuple[dict[str, int], int]:
    """Audit rows written during the scenario's runs on ``node`` (per action), and the answers of those runs.

    Results from before per-run counting only have the store's totals before and after all runs.
    """
    answers = results["requests"].get(f"{node}/{scenario}", 0)
    if "audit_runs" in results:
        return dict(results["audit_runs"].get(f"{node}/{scenario}", {})), answers
    audit = results["audit"].get(node, {})
    before, after = audit.get("before", {}), audit.get("after", {})
    return {a: after.get(a, 0) - before.get(a, 0) for a in after}, answers


def audit_actions(scenario: str) -> tuple[str, ...]:
    found = _scenario(scenario)
    return found.audit_actions if found else ()


def audit_check(results: dict[str, Any], node: str) -> Check:
    """Every expected event of every scenario: rows written >= answers; shows the lowest ratio and any shortfall."""
    per_answer: list[tuple[float, str]] = []
    for scenario in results["meta"]["scenarios"]:
        written, answers = audit_rows(results, node, scenario)
        for action in audit_actions(scenario):
            ratio = written.get(action, 0) / answers if answers else 0.0
            per_answer.append((ratio, f"{scenario} {action}: {written.get(action, 0):,} rows for {answers:,} answers"))
    short = [label for ratio, label in per_answer if ratio < 1]
    ok = bool(per_answer) and not short and bool(results["audit"].get(node, {}).get("after"))
    if not per_answer:
        return Check("an audit event persisted for every request", node, "not measured", "FAIL")
    lowest = min(per_answer)
    measured = f"{len(per_answer)} events checked, lowest {lowest[0]:.3f} rows per answer ({lowest[1]})"
    return Check("an audit event persisted for every request", node, "; ".join([measured, *short]), _status(ok))


def rss_check(results: dict[str, Any], node: str) -> Check:
    mem = results["memory"].get(node, {})
    readings = [mem[k] for k in ("after_start_kib", "after_runs_kib") if k in mem]
    measured = " / ".join(f"{v / MIB:.0f}" for v in readings) + " MiB (after start / after runs)"
    return Check("one idle node < 120 MiB RSS", node, measured, _status(bool(readings) and max(readings) < 120 * MIB))


def startup_check(results: dict[str, Any], node: str) -> Check:
    backend = node.removeprefix("tessera-")
    values = [s["seconds"] for s in results["startup"] if s["backend"] == backend and s["kind"] == "initialised"]
    med = median_or_none(values)
    measured = f"{spread(values, '{:.2f}')} s over {plural(len(values), 'start')}" if values else "not measured"
    name = "start-up < 2 s on SQLite (median, initialised store)"
    if backend != "sqlite":
        return Check(name, node, measured, "info")
    return Check(name, node, measured, _status(med is not None and med < 2.0))


def plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def refresh_check(results: dict[str, Any], node: str) -> Check:
    values = scenario_ratios(results, ("refresh-token", node), ("client-credentials", node), TARGET_CONNS)
    med = median_or_none(values)
    measured = (spread([100 * v for v in values], "{:.1f}") + "% of client credentials") if values else "not measured"
    return Check(
        f"refresh grants (offline_access) at the rate of client credentials, >= {100 * REFRESH_VS_CC:.0f}% "
        "(c=64, same rounds, median of per-round ratios)",
        node,
        measured,
        _status(med is not None and med >= REFRESH_VS_CC),
    )


def login_cpu(results: dict[str, Any], node: str) -> str:
    """Server CPU per full login, per connection count."""
    cells = []
    for conns in conns_of(results, "login"):
        values = [v for v in (cpu_ms(r) for r in runs_of(results, "login", node, conns)) if v is not None]
        if values:
            cells.append(f"{spread(values, '{:.1f}')} ms at c={conns}")
    return ", ".join(cells) or "not measured"


def password_check(results: dict[str, Any], node: str) -> Check:
    check = results.get("password_check")
    name = f"a password check costs at most ~{PASSWORD_CHECK_MS:.0f} ms of one core (<= {ABOUT:.1f}x)"
    if not check:
        return Check(name, node, "not measured", "FAIL")
    verify = check["cpu_ms_median"]
    measured = (
        f"argon2id verify alone {verify:.1f} ms CPU ({check['parameters']}, median of {check['checks']}); "
        f"a full login costs the server {login_cpu(results, node)}"
    )
    return Check(name, node, measured, _status(verify <= PASSWORD_CHECK_MS * ABOUT))


def checks(results: dict[str, Any]) -> list[Check]:
    out: list[Check] = []
    for backend in results["meta"]["backends"]:
        node = f"tessera-{backend}"
        out += scenario_checks(results, node)
        out += [error_check(results, node), audit_check(results, node), rss_check(results, node)]
        out.append(startup_check(results, node))
    return out


def scenario_checks(results: dict[str, Any], node: str) -> list[Check]:
    scenarios, out = results["meta"]["scenarios"], []
    if "client-credentials" in scenarios:
        out += [
            ratio_check(
                results,
                node,
                "client-credentials",
                FLOOR,
                0.5,
                "client credentials >= 50% of the floor (c=64, median of per-round ratios)",
            ),
            ratio_check(
                results,
                node,
                "client-credentials",
                "node-es256-jwt",
                2.0,
                "client credentials >= 2x node-oidc-provider ES256 JWT (c=64, same rounds)",
            ),
            p99_check(results, node),
        ]
    if "introspection" in scenarios:
        out.append(
            ratio_check(
                results,
                node,
                "introspection",
                "node-introspect",
                1.0,
                "introspection >= node-oidc-provider introspection (c=64; baseline.md)",
            )
        )
    if "refresh-token" in scenarios and "client-credentials" in scenarios:
        out.append(refresh_check(results, node))
    if "login" in scenarios:
        out.append(password_check(results, node))
    return out


def targets_table(found: list[Check], backends: list[str]) -> str:
    nodes = [f"tessera-{b}" for b in backends]
    head = ["target", *(f"{n}{' (the target)' if n.endswith('sqlite') else ' (extra row)'}" for n in nodes)]
    lines = [_row(head), _row(["---"] * len(head))]
    for name in dict.fromkeys(c.name for c in found):
        cells = [name]
        for node in nodes:
            check = next((c for c in found if c.name == name and c.backend == node), None)
            cells.append(f"**{check.status}** {check.measured}" if check else "-")
        lines.append(_row(cells))
    return "\n".join(lines)


# --- other tables ----------------------------------------------------------------------------------
def memory_table(results: dict[str, Any]) -> str:
    lines = [
        _row(["server", "RSS after start, idle (MiB)", "RSS after the runs, idle (MiB)", "peak RSS (MiB)"]),
        _row(["---"] * 4),
    ]
    for name, mem in results["memory"].items():
        cells = [name] + [
            f"{mem[k] / MIB:.1f}" if k in mem else "-" for k in ("after_start_kib", "after_runs_kib", "peak_kib")
        ]
        lines.append(_row(cells))
    return "\n".join(lines)


def startup_table(results: dict[str, Any]) -> str:
    lines = [
        _row(["backend", "first start, empty store (s)", "initialised store: median (min-max) (s)", "starts"]),
        _row(["---"] * 4),
    ]
    for backend in results["meta"]["backends"]:
        first = [s["seconds"] for s in results["startup"] if s["backend"] == backend and s["kind"] == "first"]
        warm = [s["seconds"] for s in results["startup"] if s["backend"] == backend and s["kind"] == "initialised"]
        lines.append(_row([backend, spread(first, "{:.2f}"), spread(warm, "{:.2f}"), str(len(warm))]))
    return "\n".join(lines)


def audit_table(results: dict[str, Any]) -> str:
    """Per node and scenario: the rows each answer must leave, written during the scenario's runs."""
    head = ["node", "scenario", "audit action", "rows written", "answers (incl. warm-up)", "rows per answer"]
    lines = [_row(head), _row(["---"] * len(head))]
    for node, audit in results["audit"].items():
        for scenario in results["meta"]["scenarios"]:
            written, answers = audit_rows(results, node, scenario)
            expected = audit_actions(scenario)
            for action in [*expected, *sorted(a for a in written if a not in expected)]:
                count = written.get(action, 0)
                per = f"{count / answers:.3f}" if answers else "-"
                shown = action if action in expected else f"{action} (not expected)"
                lines.append(_row([node, scenario, shown, f"{count:,}", f"{answers:,}", per]))
        total = sum(audit.get("after", {}).values()) - sum(audit.get("before", {}).values())
        lines.append(_row([node, "all, set-up included", "(every action)", f"{total:,}", "", ""]))
    return "\n".join(lines)


def password_table(results: dict[str, Any]) -> str:
    check = results.get("password_check")
    if not check:
        return "Not measured in this run (the `login` scenario was not selected)."
    head = ["argon2id parameters", "checks", "CPU ms median (min-max)", "wall ms median (min-max)"]
    cells = [
        f"`{check['parameters']}`",
        str(check["checks"]),
        spread(check["cpu_ms"], "{:.1f}"),
        spread(check["wall_ms"], "{:.1f}"),
    ]
    return "\n".join([_row(head), _row(["---"] * len(head)), _row(cells)])


def versions_table(results: dict[str, Any]) -> str:
    v = results["versions"]
    tv, fv, nv = v["tessera_venv"], v["floor_venv"], v["node"]
    git = str(v["git"]).replace(" (with uncommitted changes)", " with uncommitted changes")
    rows = [
        ("Tessera", f"{tv.get('tessera')}, git {git}"),
        ("Python (Tessera venv / floor venv)", f"{tv.get('python')} / {fv.get('python')}"),
        ("uvicorn, uvloop, httptools (Tessera)", f"{tv.get('uvicorn')}, {tv.get('uvloop')}, {tv.get('httptools')}"),
        ("uvicorn, uvloop, httptools (floor)", f"{fv.get('uvicorn')}, {fv.get('uvloop')}, {fv.get('httptools')}"),
        (
            "starlette, python-multipart (Tessera / floor)",
            f"{tv.get('starlette')}, {tv.get('python-multipart')} / "
            f"{fv.get('starlette')}, {fv.get('python-multipart')}",
        ),
        ("cryptography (OpenSSL), joserfc", f"{tv.get('cryptography')} ({tv.get('openssl')}), {tv.get('joserfc')}"),
        (
            "pydantic, SQLAlchemy, aiosqlite, asyncpg",
            f"{tv.get('pydantic')}, {tv.get('sqlalchemy')}, {tv.get('aiosqlite')}, {tv.get('asyncpg')}",
        ),
        ("SQLite (library linked by Tessera's Python)", str(tv.get("sqlite"))),
        ("PostgreSQL server", str(v.get("postgresql"))),
        (
            "Node.js; oidc-provider, jose, koa",
            f"{nv.get('node')}; {nv.get('oidc-provider')}, {nv.get('jose')}, {nv.get('koa')}",
        ),
        ("wrk", str(v.get("wrk"))),
    ]
    return "\n".join([_row(["component", "version"]), _row(["---", "---"]), *(_row([a, b]) for a, b in rows)])


def machine_line(results: dict[str, Any]) -> str:
    m = results["machine"]
    return (
        f"{m['cpu_model']}, {m['cpus']} vCPU (hypervisor: {m['hypervisor']}), {m['memory_gib']} GiB, "
        f"{m['os']}, Linux {m['kernel']}"
    )


def servers_block(results: dict[str, Any]) -> str:
    return "\n".join(f"# {name}\n{cmd}" for name, cmd in results.get("servers", {}).items())


def config_block(results: dict[str, Any]) -> str:
    configs = results.get("configs", {})
    return "\n".join(f"# {name}: tessera.toml\n{text.strip()}" for name, text in configs.items())


def commands_block(results: dict[str, Any]) -> str:
    return "\n".join(f"# {label}\n{cmd}" for label, cmd in results["commands"].items() if "/" in label)


def scenario_list(results: dict[str, Any]) -> str:
    known = {s.name: s for s in SCENARIOS}
    lines = [
        f"- **{n}**: {known[n].summary}. Compared with: {', '.join(known[n].references)}."
        for n in results["meta"]["scenarios"]
        if n in known
    ]
    refs = dict.fromkeys(r for n in results["meta"]["scenarios"] if n in known for r in known[n].references)
    lines += [f"- reference **{r}**: {REFERENCES[r].summary}." for r in refs]
    return "\n".join(lines)


def notes(results: dict[str, Any]) -> str:
    meta, out = results["meta"], []
    if meta["quick"] or meta["rounds"] < 3:
        out.append(
            f"- **Smoke run** ({plural(meta['rounds'], 'round')} x {meta['duration']:g} s): indicative only; the "
            "figures that count come from a full run (`bench/run.py`, 3 rounds x 10 s) on a quiet machine."
        )
    if results.get("not_idle"):
        out.append(
            f"- Before {plural(len(results['not_idle']), 'run')} the server core did not become idle (<10% busy) "
            f"within {meta['idle_timeout']:g} s; another workload shared the machine, treat those figures with care:"
        )
        out += [f"  - {item}" for item in results["not_idle"]]
    out += [f"- Error during the run: {e}" for e in results["errors"]]
    return "\n".join(out) if out else "- No anomalies were recorded by the script."


def conns_text(results: dict[str, Any]) -> str:
    """``16 and 64 connections (login: 4 and 16)``: the run's counts, and the scenarios' own ones."""
    default = results["meta"]["conns"]
    text = " and ".join(str(c) for c in default) + " connections"
    own = [(s, conns_of(results, s)) for s in results["meta"]["scenarios"]]
    others = [f"{s}: {' and '.join(str(c) for c in cs)}" for s, cs in own if cs and cs != sorted(default)]
    return text + (f" ({'; '.join(others)})" if others else "")


# --- output ----------------------------------------------------------------------------------------
def render(results: dict[str, Any], results_dir: str) -> tuple[str, list[Check]]:
    found = checks(results)
    meta = results["meta"]
    tables = "\n\n".join(f"### {s}\n\n{scenario_table(results, s)}" for s in meta["scenarios"])
    verdict = "all targets met" if all(c.passed for c in found) else "some targets are **not** met"
    text = Template(TEMPLATE.read_text()).substitute(
        started=meta["started"],
        finished=meta.get("finished", "?"),
        argv=" ".join(meta["argv"]) or "(defaults)",
        rounds=meta["rounds"],
        duration=f"{meta['duration']:g}",
        warmup=f"{meta['warmup']:g}",
        conns=conns_text(results),
        wrk_version=str(results["versions"].get("wrk", "?")).split(" ", 1)[0],
        server_cpu=meta["cpus"]["server"],
        load_cpu=meta["cpus"]["load"],
        verdict=verdict,
        targets_table=targets_table(found, meta["backends"]),
        scenario_list=scenario_list(results),
        results_tables=tables,
        memory_table=memory_table(results),
        startup_table=startup_table(results),
        audit_table=audit_table(results),
        password_table=password_table(results),
        machine=machine_line(results),
        versions_table=versions_table(results),
        wrk_commands=commands_block(results),
        server_commands=servers_block(results),
        tessera_configs=config_block(results),
        notes=notes(results),
        results_dir=results_dir,
    )
    return text, found


def render_to(results_file: Path, doc: Path) -> list[Check]:
    results = json.loads(results_file.read_text())
    where = results_file.parent.resolve()
    shown = str(where.relative_to(REPO)) if where.is_relative_to(REPO) else str(where)
    text, found = render(results, shown)
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(text)
    return found


def write_tsv(results: dict[str, Any], path: Path) -> None:
    with path.open("w", newline="") as out:
        writer = csv.DictWriter(out, TSV_COLUMNS, delimiter="\t", extrasaction="ignore")
        writer.writeheader()
        writer.writerows(results["runs"])
