"""``python -m bench SCENARIO [SCENARIO ...] [options]``: run scenarios, print a table, write JSON.

Scenarios: floor, rest, ws, fanout, storage, realistic, workers, memory, ethstats, or ``all``.
Every scenario starts its own server on free 127.0.0.1 ports and stops by itself.
Results go to bench/results/<time>.json (and latest.json).
"""

import argparse
import json
import time
from pathlib import Path
from typing import Any

from bench.backend import machine
from bench.report import markdown_table, targets
from bench.scenarios import SCENARIOS, Options

RESULTS = Path(__file__).resolve().parent / "results"
#: ``all`` runs the floor first, so every later throughput has its ratio.
ALL = ["floor", "rest", "ws", "workers", "fanout", "storage", "realistic", "memory", "ethstats"]


def print_table(rows: list[dict[str, Any]]) -> None:
    columns: list[str] = []
    for row in rows:
        columns += [key for key in row if key not in columns]
    cells = [
        [("" if row.get(column) is None else str(row.get(column))) for column in columns] for row in rows
    ]
    widths = [max(len(column), *(len(line[i]) for line in cells)) for i, column in enumerate(columns)]
    print("  ".join(column.ljust(width) for column, width in zip(columns, widths, strict=True)))
    for line in cells:
        print("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("scenarios", nargs="+", choices=[*SCENARIOS, "all"])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of load per run (default 10)")
    parser.add_argument("--agents", type=int, default=50, help="agents in max-rate runs (default 50)")
    parser.add_argument("--dashboards", type=int, default=10, help="dashboards in ws/realistic runs")
    parser.add_argument("--workers", type=int, default=1, help="server processes for rest/ws runs")
    parser.add_argument("--window", type=int, default=4, help="calls in flight per WebSocket agent")
    parser.add_argument("--output", type=Path, help="JSON file (default bench/results/<time>.json)")
    args = parser.parse_args(argv)

    names = ALL if "all" in args.scenarios else args.scenarios
    options = Options(
        duration=args.duration,
        agents=args.agents,
        dashboards=args.dashboards,
        workers=args.workers,
        window=args.window,
    )
    state: dict[str, Any] = {}
    report: dict[str, Any] = {"machine": machine(), "options": vars(options), "started": time.time()}
    rows: list[dict[str, Any]] = []
    for name in names:
        print(f"== {name}", flush=True)
        began = time.monotonic()
        try:
            result = SCENARIOS[name](options, state)
        except Exception as exc:
            print(f"   {name} failed: {type(exc).__name__}: {exc}", flush=True)
            report[name] = {"error": f"{type(exc).__name__}: {exc}"}
            continue
        result["wall_seconds"] = round(time.monotonic() - began, 1)
        report[name] = result
        print_table(result["rows"])
        rows += result["rows"]
    report["floor"] = report.get("floor") or {"rest_per_s": state.get("floor_rest")}
    report["finished"] = time.time()
    print("\n== summary")
    print_table(rows)
    judged = targets(report)
    report["targets"] = judged
    print("\n== targets")
    print_table(judged)
    output = args.output or RESULTS / time.strftime("%Y%m%d-%H%M%S.json")
    output.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(report, indent=2, default=str)
    output.write_text(text)
    (output.parent / "latest.json").write_text(text)
    (output.parent / "latest.md").write_text(
        f"Machine: {report['machine']}\n\n{markdown_table(rows)}\n\n{markdown_table(judged)}\n"
    )
    print(f"\nresults: {output}")


if __name__ == "__main__":
    main()
