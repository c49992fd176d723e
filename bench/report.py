"""The targets of the performance issue, judged from one run's results, and a Markdown summary."""

from typing import Any

from bench.scenarios import meets_delivery_bound


def _get(report: dict[str, Any], *path: Any) -> Any:
    value: Any = report
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def _realistic(report: dict[str, Any], transport: str, agents: int) -> tuple[str, bool | None]:
    for run in _get(report, "realistic", "runs", transport) or []:
        if run["agents"] == agents:
            feed = run["dashboards"]
            figure = f"N={agents}: delivery p99 {feed['delivery']['p99_ms']} ms"
            if "delivery_burst" in feed:
                figure += (
                    f" (burst {feed['delivery_burst']['p99_ms']} ms,"
                    f" steady {feed['delivery_steady']['p99_ms']} ms)"
                )
            return f"{figure}, lost {feed['lost_frames']}", meets_delivery_bound(feed, 250)
    largest = _get(report, "realistic", "largest_n", transport)
    if largest is None and _get(report, "realistic", "runs", transport) is None:
        return "not run", None
    return f"largest N meeting the bound: {largest}", False


def targets(report: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per target: what was measured and whether it is met (None: not measured)."""
    rows = []

    def add(target: str, figure: str, met: bool | None) -> None:
        rows.append(
            {"target": target, "measured": figure, "met": {True: "yes", False: "not yet"}.get(met, "-")}
        )

    figure, met = _realistic(report, "ws", 1000)
    add("Realistic: 1,000 WS agents, 10 dashboards, delivery p99 < 250 ms, no loss", figure, met)
    figure, met = _realistic(report, "rest", 500)
    add("Realistic: 500 REST agents, 10 dashboards, delivery p99 < 250 ms, no loss", figure, met)

    best = None
    for source in (_get(report, "ws", "max_rate"), _get(report, "workers", "ws")):
        for run in (source or {}).values() if isinstance(source, dict) else []:
            feed = run.get("dashboards") or {}
            if feed.get("count", 0) >= 10 and (
                best is None or run["accepted_per_s"] > best["accepted_per_s"]
            ):
                best = run
    if best:
        p99 = best["dashboards"]["delivery"]["p99_ms"]
        lost = best["dashboards"]["lost_frames"]
        met = best["accepted_per_s"] >= 6000 and p99 is not None and p99 < 100 and lost == 0
        add(
            "Max rate WS: >= 6,000 msg/s in with 10 dashboards, delivery p99 < 100 ms, no loss",
            f"{best['accepted_per_s']} msg/s, p99 {p99} ms, lost {lost} ({best.get('workers', 1)} worker(s))",
            met,
        )
    else:
        add("Max rate WS: >= 6,000 msg/s in with 10 dashboards", "not run", None)

    rest = _get(report, "rest", "max_rate")
    floor = _get(report, "floor", "rest", "accepted_per_s")
    if rest and floor:
        ratio = rest["accepted_per_s"] / floor
        add(
            "REST throughput >= 0.6 x floor",
            f"{rest['accepted_per_s']} vs floor {floor} msg/s = {ratio:.2f} x",
            ratio >= 0.6,
        )
    else:
        add("REST throughput >= 0.6 x floor", "not run", None)

    fanout = _get(report, "fanout", "fanout")
    if fanout:
        feed = fanout["dashboards"]
        p99 = feed["delivery"]["p99_ms"]
        expected = feed["count"] * fanout["accepted"]
        met = (
            fanout["accepted_per_s"] >= 190
            and feed["lost_frames"] == 0
            and p99 is not None
            and p99 < 250
            and feed["frames_delivered"] >= expected
        )
        add(
            "Fan-out: 500 dashboards each get all of 200 msg/s, delivery p99 < 250 ms",
            f"{fanout['accepted_per_s']} msg/s accepted, {feed['frames_per_s']} frames/s out, "
            f"p99 {p99} ms, lost {feed['lost_frames']}, {feed['still_open']} of {feed['count']} still open",
            met,
        )
    else:
        add("Fan-out: 500 dashboards at 200 msg/s", "not run", None)

    storage_runs = _get(report, "storage", "runs") or {}
    if storage_runs:
        figures = []
        met = []
        for count, run in sorted(storage_runs.items()):
            figure = run["storage"]
            lag = figure["lag"]["p99_ms"]
            met.append(
                (figure["rows_per_s"] or 0) >= 10_000
                and lag is not None
                and lag < 2000
                and figure["missing_rows"] == 0
            )
            figures.append(
                f"{count} worker(s): {figure['rows_per_s']} rows/s, lag p99 {lag} ms, "
                f"missing {figure['missing_rows']}"
            )
        add(
            "Storage: >= 10,000 statistics rows/s into PostgreSQL, lag p99 < 2 s (--workers 2 allowed)",
            "; ".join(figures),
            any(met),
        )
    else:
        add("Storage: >= 10,000 rows/s", "not run", None)

    workers = _get(report, "workers")
    if workers and workers.get("speedup") is not None:
        lost = sum(
            (run.get("dashboards") or {}).get("lost_frames", 0)
            for runs in workers["runs"].values()
            for run in runs
        )
        add(
            "Every core: --workers 2 >= 1.4 x one worker (REST max rate), dashboards see every frame",
            f"{workers['speedup']} x, lost {lost}",
            workers["speedup"] >= 1.4 and lost == 0,
        )
    else:
        add("Every core: --workers 2 >= 1.4 x one worker", "not run", None)

    largest = _get(report, "ethstats", "largest_n")
    if isinstance(largest, dict):
        add(
            "ethstats: 2,000 go-ethereum nodes on --workers 2, 10 dashboards, delivery p99 < 250 ms, no loss",
            f"largest N meeting the bound: {largest.get('1')} on one worker, {largest.get('2')} on two",
            (largest.get("2") or 0) >= 2000,
        )
    else:
        add("ethstats: 2,000 nodes on --workers 2", "not run", None)

    memory = _get(report, "memory", "memory")
    if memory:
        add(
            "Memory per dashboard and per agent (1,000 each): reported",
            f"{memory['per_dashboard_kb']} KB per dashboard, {memory['per_agent_kb']} KB per WS agent "
            f"(idle server {memory['rss_idle_mb']} MB)",
            True,
        )
    return rows


def markdown_table(rows: list[dict[str, Any]]) -> str:
    columns: list[str] = []
    for row in rows:
        columns += [key for key in row if key not in columns]
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        lines.append("| " + " | ".join("" if row.get(c) is None else str(row.get(c)) for c in columns) + " |")
    return "\n".join(lines)
