"""The cost of durable delivery: max-rate REST, WebSocket and storage runs with the durable
receivers' spools on (the default) and off (their rows' ``durable`` option false: memory queues).

``python -m bench.spool [--agents N] [--duration S]``; prints a table (with the loss of each
"on" run against its "off" run) and writes bench/results/spool-<time>.json.
"""

import argparse
import json
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


def spool_cost(options: Options, scenarios: list[str]) -> dict[str, Any]:
    runs: dict[str, dict[str, Any]] = {}
    rows = []
    for scenario in scenarios:
        runs[scenario] = {}
        for spool in (False, True):
            name = "on" if spool else "off"
            result = runs[scenario][name] = one_run(options, scenario, spool)
            row = _row(f"{scenario} max-rate, spool {name}", result)
            if "rows" in result:
                row |= {"rows": result["rows"], "catch-up s": result["catch_up_seconds"]}
            rows.append(row)
        off, on = runs[scenario]["off"]["accepted_per_s"], runs[scenario]["on"]["accepted_per_s"]
        runs[scenario]["loss_percent"] = round(100 * (off - on) / off, 1) if off else None
        rows[-1]["loss %"] = runs[scenario]["loss_percent"]
    return {"runs": runs, "rows": rows}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.spool", description=__doc__.splitlines()[0])
    parser.add_argument("scenarios", nargs="*", default=["rest", "ws", "storage"])
    parser.add_argument("--agents", type=int, default=50)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--window", type=int, default=4)
    args = parser.parse_args(argv)
    options = Options(duration=args.duration, agents=args.agents, window=args.window)
    report = {"machine": machine(), "options": vars(options), "started": time.time()}
    report |= spool_cost(options, args.scenarios)
    from bench.__main__ import print_table

    print_table(report["rows"])
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / time.strftime("spool-%Y%m%d-%H%M%S.json")).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
