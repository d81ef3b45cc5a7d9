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

from scenarios import REFERENCES, SCENARIOS

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
)
TARGET_CONNS = 64
FLOOR = "floor-starlette"
MIB = 1024

Run = dict[str, Any]


# --- figures ---------------------------------------------------------------------------------------
def runs_of(results: dict[str, Any], scenario: str, system: str, conns: int) -> list[Run]:
    return [r for r in results["runs"] if r["scenario"] == scenario and r["system"] == system and r["conns"] == conns]


def ratios(results: dict[str, Any], scenario: str, system: str, reference: str, conns: int) -> list[float]:
    """``system``'s req/s over ``reference``'s, per round."""
    ref = {r["round"]: r["rps"] for r in runs_of(results, scenario, reference, conns)}
    return [r["rps"] / ref[r["round"]] for r in runs_of(results, scenario, system, conns) if ref.get(r["round"])]


def median_or_none(values: Iterable[float]) -> float | None:
    items = list(values)
    return statistics.median(items) if items else None


def spread(values: list[float], fmt: str) -> str:
    """``median (min-max)``, or the single value."""
    if not values:
        return "-"
    med = fmt.format(statistics.median(values))
    return med if len(values) == 1 else f"{med} ({fmt.format(min(values))}-{fmt.format(max(values))})"


def ratio_cell(values: list[float], reference: str) -> str:
    if not values:
        return "-"
    if reference.startswith("floor"):
        return spread([100 * v for v in values], "{:.0f}") + "%"
    return spread(values, "{:.2f}") + "x"


def systems_in(results: dict[str, Any], scenario: str) -> list[str]:
    return list(dict.fromkeys(r["system"] for r in results["runs"] if r["scenario"] == scenario))


def scenario_table(results: dict[str, Any], scenario: str) -> str:
    refs = _references(scenario)
    head = ["system", "conns", "req/s median (min-max)", "p50 ms", "p99 ms", "non-2xx / socket err / timeouts"]
    head += [f"vs {ref}" for ref in refs]
    lines = [_row(head), _row(["---"] * len(head))]
    for system in systems_in(results, scenario):
        for conns in results["meta"]["conns"]:
            rows = runs_of(results, scenario, system, conns)
            if not rows:
                continue
            cells = [
                system,
                str(conns),
                spread([r["rps"] for r in rows], "{:,.0f}"),
                spread([r["p50_ms"] for r in rows], "{:.1f}"),
                spread([r["p99_ms"] for r in rows], "{:.1f}"),
                "/".join(str(sum(r[k] for r in rows)) for k in ("non2xx", "sockerr", "timeouts")),
            ]
            cells += [
                "-" if ref == system else ratio_cell(ratios(results, scenario, system, ref, conns), ref) for ref in refs
            ]
            lines.append(_row(cells))
    return "\n".join(lines)


def _references(scenario: str) -> tuple[str, ...]:
    known = {s.name: s for s in SCENARIOS}
    return known[scenario].references if scenario in known else (FLOOR,)


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
    measured = ratio_cell(values, ref) if values else "not measured"
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


def audit_check(results: dict[str, Any], node: str) -> Check:
    audit = results["audit"].get(node, {})
    parts, ok = [], bool(audit.get("after"))
    for scenario in results["meta"]["scenarios"]:
        action = _audit_action(scenario)
        sent = results["requests"].get(f"{node}/{scenario}", 0)
        written = audit.get("after", {}).get(action, 0) - audit.get("before", {}).get(action, 0)
        ok = ok and written >= sent
        parts.append(f"{action}: {written:,} rows for {sent:,} responses")
    return Check("an audit event persisted for every request", node, "; ".join(parts), _status(ok))


def _audit_action(scenario: str) -> str:
    return next((s.audit_action for s in SCENARIOS if s.name == scenario), "?")


def rss_check(results: dict[str, Any], node: str) -> Check:
    mem = results["memory"].get(node, {})
    readings = [mem[k] for k in ("after_start_kib", "after_runs_kib") if k in mem]
    measured = " / ".join(f"{v / MIB:.0f}" for v in readings) + " MiB (after start / after runs)"
    return Check("one idle node < 120 MiB RSS", node, measured, _status(bool(readings) and max(readings) < 120 * MIB))


def startup_check(results: dict[str, Any], node: str) -> Check:
    backend = node.removeprefix("tessera-")
    values = [s["seconds"] for s in results["startup"] if s["backend"] == backend and s["kind"] == "initialised"]
    med = median_or_none(values)
    measured = f"{spread(values, '{:.2f}')} s over {len(values)} starts" if values else "not measured"
    if backend != "sqlite":
        return Check("start-up < 2 s on SQLite (median, initialised store)", node, measured, "info")
    return Check(
        "start-up < 2 s on SQLite (median, initialised store)", node, measured, _status(med is not None and med < 2.0)
    )


def checks(results: dict[str, Any]) -> list[Check]:
    out: list[Check] = []
    scenarios = results["meta"]["scenarios"]
    for backend in results["meta"]["backends"]:
        node = f"tessera-{backend}"
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
        out += [error_check(results, node), audit_check(results, node), rss_check(results, node)]
        out.append(startup_check(results, node))
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
    lines = [
        _row(
            [
                "node",
                "scenario",
                "audit action",
                "rows before",
                "rows after",
                "written",
                "responses (wrk, incl. warm-up)",
                "rows per response",
            ]
        ),
        _row(["---"] * 8),
    ]
    for node, audit in results["audit"].items():
        for scenario in results["meta"]["scenarios"]:
            action = _audit_action(scenario)
            before = audit.get("before", {}).get(action, 0)
            after = audit.get("after", {}).get(action, 0)
            sent = results["requests"].get(f"{node}/{scenario}", 0)
            per = f"{(after - before) / sent:.3f}" if sent else "-"
            lines.append(
                _row([node, scenario, action, f"{before:,}", f"{after:,}", f"{after - before:,}", f"{sent:,}", per])
            )
        total = sum(audit.get("after", {}).values()) - sum(audit.get("before", {}).values())
        lines.append(_row([node, "all", "(every action)", "", "", f"{total:,}", "", ""]))
    return "\n".join(lines)


def versions_table(results: dict[str, Any]) -> str:
    v = results["versions"]
    tv, fv, nv = v["tessera_venv"], v["floor_venv"], v["node"]
    rows = [
        ("Tessera", f"{tv.get('tessera')} (git {v['git']})"),
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
            f"- **Smoke run** ({meta['rounds']} round x {meta['duration']:g} s): indicative only; the "
            "figures that count come from a full run (`bench/run.py`, 3 rounds x 10 s) on a quiet machine."
        )
    if results.get("not_idle"):
        out.append(
            f"- Before {len(results['not_idle'])} run(s) the server core did not become idle (<10% busy) within "
            f"{meta['idle_timeout']:g} s; another workload shared the machine, treat those figures with care:"
        )
        out += [f"  - {item}" for item in results["not_idle"]]
    out += [f"- Error during the run: {e}" for e in results["errors"]]
    return "\n".join(out) if out else "- No anomalies were recorded by the script."


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
        conns=" and ".join(str(c) for c in meta["conns"]),
        server_cpu=meta["cpus"]["server"],
        load_cpu=meta["cpus"]["load"],
        verdict=verdict,
        targets_table=targets_table(found, meta["backends"]),
        scenario_list=scenario_list(results),
        results_tables=tables,
        memory_table=memory_table(results),
        startup_table=startup_table(results),
        audit_table=audit_table(results),
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
