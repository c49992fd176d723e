"""The cost of durable delivery: max-rate REST, WebSocket and storage runs with the durable
receivers' spools on (the default) and off (their rows' ``durable`` option false: memory queues).

``python -m bench.spool [--agents N] [--duration S] [--pairs P]``; runs each scenario off then
on, P times over (alternating, so a drift of the machine's speed touches both alike), prints
a row per run and the loss of the median "on" rate against the median "off" rate, and writes
bench/results/spool-<time>.json. One pair alone varies by 10-20 % on a two-core machine.
"""

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.backend import ROOT, Backend, machine
from bench.scenarios import Options, _row, drive

RESULTS = Path(__file__).resolve().parent / "results"
DURABLE_ROWS = ["ethereum_statistics", "system_statistics", "dynamodb_blocks"]

SPOOL_OFF = """
from receivers.models import Receiver
for row in Receiver.objects.filter(name__in=NAMES):
    row.options = {**row.options, "durable": False}
    row.save(update_fields=["options"])
"""


def spool_off(backend: Backend) -> None:
    script = SPOOL_OFF.replace("NAMES", repr(DURABLE_ROWS))
    subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", script], cwd=ROOT, env=backend.env, check=True
    )


def one_run(options: Options, scenario: str, spool: bool) -> dict[str, Any]:
    backend = Backend(postgres=scenario == "storage", redis=scenario == "storage")
    try:
        backend.prepare(options.agents)
        if not spool:
            spool_off(backend)
        backend.start()
        common = {
            "url": backend.url("rest"),
            "credentials": backend.credentials,
            "agents": options.agents,
            "duration": options.duration,
            "auth_url": backend.url("auth"),
        }
        if scenario == "rest":
            result = drive(
                **common,
                dashboards=1,
                dashboard_url=backend.dashboard_url,
                dashboard_secret=backend.dashboard_secret,
            )
        elif scenario == "ws":
            result = drive(
                **common,
                transport="ws",
                window=options.window,
                dashboards=1,
                dashboard_url=backend.dashboard_url,
                dashboard_secret=backend.dashboard_secret,
            )
        else:
            result = drive(**common, transport="ws", window=options.window, mix="statistics")
            deadline = time.time() + 60
            began = time.time()
            while time.time() < deadline and sum(backend.count_rows().values()) < result["accepted"]:
                time.sleep(0.25)
            result["rows"] = sum(backend.count_rows().values())
            result["catch_up_seconds"] = round(time.time() - began, 2)
        result.pop("timeline", None)
        result.pop("samples", None)
        return result
    except Exception:
        print(backend.log_tail())
        raise
    finally:
        backend.cleanup()


def spool_cost(options: Options, scenarios: list[str], pairs: int = 5) -> dict[str, Any]:
    runs: dict[str, dict[str, Any]] = {}
    rows = []
    for scenario in scenarios:
        runs[scenario] = {"off": [], "on": []}
        for _ in range(pairs):
            for spool in (False, True):
                name = "on" if spool else "off"
                result = one_run(options, scenario, spool)
                runs[scenario][name].append(result)
                row = _row(f"{scenario} max-rate, spool {name}", result)
                if "rows" in result:
                    row |= {"rows": result["rows"], "catch-up s": result["catch_up_seconds"]}
                rows.append(row)
        off, on = (
            statistics.median(result["accepted_per_s"] for result in runs[scenario][name])
            for name in ("off", "on")
        )
        loss = runs[scenario]["loss_percent"] = round(100 * (off - on) / off, 1) if off else None
        runs[scenario]["median_accepted_per_s"] = {"off": off, "on": on}
        median = {"run": f"{scenario}: median of {pairs}, off / on", "accepted/s": f"{off} / {on}"}
        rows.append(median | {"loss %": loss})
    return {"runs": runs, "rows": rows}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.spool", description=__doc__.splitlines()[0])
    parser.add_argument("scenarios", nargs="*", default=["rest", "ws", "storage"])
    parser.add_argument("--agents", type=int, default=50)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--window", type=int, default=4)
    parser.add_argument("--pairs", type=int, default=5, help="off/on pairs per scenario (default 5)")
    args = parser.parse_args(argv)
    options = Options(duration=args.duration, agents=args.agents, window=args.window)
    report = {"machine": machine(), "options": vars(options), "started": time.time()}
    report |= spool_cost(options, args.scenarios, args.pairs)
    from bench.__main__ import print_table

    print_table(report["rows"])
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / time.strftime("spool-%Y%m%d-%H%M%S.json")).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
