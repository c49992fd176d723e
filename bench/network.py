"""The cost of the network-view receiver at the realistic cadence: the same run with its row
disabled and enabled, alternately; dashboard delivery p99 and the server's CPU for each.

``python -m bench.network [--agents N] [--duration S]``; prints a table and writes
bench/results/network-<time>.json.
"""

import argparse
import json
import os
import statistics
import time
from pathlib import Path
from typing import Any

from bench.backend import Backend, machine
from bench.scenarios import Options, _row, drive

RESULTS = Path(__file__).resolve().parent / "results"


def cpu_seconds(pid: int) -> float:
    """User and system CPU of a process and its descendants (workers), in seconds."""
    ticks = os.sysconf("SC_CLK_TCK")
    total, pending = 0.0, [pid]
    while pending:
        current = pending.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks
            for task in Path(f"/proc/{current}/task").iterdir():
                pending.extend(int(child) for child in (task / "children").read_text().split())
        except OSError:
            continue
    return total


def one_run(options: Options, agents: int, network: bool) -> dict[str, Any]:
    backend = Backend(workers=options.workers)
    try:
        backend.prepare(agents, disable=[] if network else ["network"])
        backend.start()
        before = cpu_seconds(backend.process.pid)
        began = time.monotonic()
        result = drive(
            url=backend.url("rest"),
            credentials=backend.credentials[:agents],
            agents=agents,
            duration=options.duration,
            transport="ws",
            mode="realistic",
            dashboards=options.dashboards,
            dashboard_url=backend.dashboard_url,
            dashboard_secret=backend.dashboard_secret,
            auth_url=backend.url("auth"),
        )
        seconds = time.monotonic() - began
        result["server_cpu_percent"] = round(100 * (cpu_seconds(backend.process.pid) - before) / seconds, 1)
        result.pop("timeline", None)
        return result
    except Exception:
        print(backend.log_tail())
        raise
    finally:
        backend.cleanup()


def network_cost(options: Options, agents: int, pairs: int = 2) -> dict[str, Any]:
    """Runs alternate off, on, off, on …, so a machine busy with something else costs both alike;
    the medians of each side are compared."""
    runs: dict[str, list[dict[str, Any]]] = {"off": [], "on": []}
    rows = []
    for _ in range(pairs):
        for name in ("off", "on"):
            result = one_run(options, agents, network=name == "on")
            runs[name].append(result)
            row = _row(f"realistic ws N={agents}, network view {name}", result)
            rows.append(row | {"server CPU %": result["server_cpu_percent"]})

    def median_of(name: str, pick: Any) -> float:
        return statistics.median(pick(result) for result in runs[name])

    figures = {
        "delivery_p99_ms": lambda result: result["dashboards"]["delivery"]["p99_ms"],
        "server_cpu_percent": lambda result: result["server_cpu_percent"],
    }
    medians = {name: {key: median_of(name, pick) for key, pick in figures.items()} for name in runs}
    added = {key: round(medians["on"][key] - medians["off"][key], 1) for key in figures}
    return {"runs": runs, "rows": rows, "medians": medians, "added": added}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.network", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--agents", type=int, default=250, help="agents at the realistic cadence (default 250)"
    )
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per run (default 20)")
    parser.add_argument("--dashboards", type=int, default=10)
    parser.add_argument("--pairs", type=int, default=2, help="off/on pairs, alternated (default 2)")
    args = parser.parse_args(argv)
    options = Options(duration=args.duration, dashboards=args.dashboards)
    report = {"machine": machine(), "options": vars(options), "started": time.time()}
    report |= network_cost(options, args.agents, args.pairs)
    from bench.__main__ import print_table

    print_table(report["rows"])
    print("medians:", report["medians"])
    print("added by the network view:", report["added"])
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / time.strftime("network-%Y%m%d-%H%M%S.json")).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
