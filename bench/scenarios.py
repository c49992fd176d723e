"""The scenarios: each starts what it needs, drives bounded load from other processes, and
returns its figures as a dict (``rows`` of the printed table, the rest in the JSON file)."""

import secrets
import threading
import time
from array import array
from dataclasses import dataclass
from typing import Any

from bench.backend import Backend, FloorServer
from bench.load import DashboardProcess, run_agents, unpack_keys
from simulator.stats import summarize_latencies

#: Realistic-cadence delivery bound of the targets.
REALISTIC_P99_MS = 250.0
#: The realistic runs' burst: messages sent this long after the agents start connecting.
REALISTIC_BURST_SECONDS = 15.0


@dataclass
class Options:
    duration: float = 10.0
    agents: int = 50
    dashboards: int = 10
    workers: int = 1
    window: int = 4


def _latencies(blobs: list[bytes]) -> array:
    values = array("d")
    for blob in blobs:
        values.frombytes(blob)
    return values


def drive(
    *,
    url: str,
    credentials: list[list[str]],
    agents: int,
    duration: float,
    transport: str = "rest",
    mode: str = "max",
    mix: str = "all",
    rate_per_agent: float | None = None,
    window: int = 4,
    dashboards: int = 0,
    dashboard_url: str = "",
    dashboard_secret: str = "",
    auth_url: str = "",
    ramp: float | None = None,
    sample: Any = None,
    simulation: dict[str, Any] | None = None,
    burst: float | None = None,
) -> dict[str, Any]:
    """Agents (and dashboards) against ``url``; the figures of one run. With ``burst`` (seconds),
    the dashboards' delivery is also given apart for messages sent in the run's first ``burst``
    seconds (agents connecting) and after them (the steady state)."""
    feed = None
    if dashboards:
        feed = DashboardProcess(dashboard_url, dashboard_secret, dashboards)
        feed.start()
    config = {
        "url": url,
        "agents": agents,
        "credentials": credentials,
        "transport": transport,
        "mode": mode,
        "mix": mix,
        "rate_per_agent": rate_per_agent,
        "duration": duration,
        "window": window,
        "auth_url": auth_url,
        "ramp": ramp if ramp is not None else min(5.0, agents / 200),
        "stamp": True,
        **(simulation or {}),
    }
    sampler_stop = threading.Event()
    samples: list[Any] = []
    if sample is not None:

        def sampling() -> None:
            while not sampler_stop.wait(0.25):
                samples.append((time.time(), sample()))

        threading.Thread(target=sampling, daemon=True).start()
    try:
        agent_report = run_agents(config, timeout=duration + 120)
    finally:
        sampler_stop.set()
    summary = agent_report["summary"]
    result: dict[str, Any] = {"agents": agents, "transport": transport, "mode": mode, **summary}
    result["timeline"] = agent_report["timeline"]
    result["samples"] = samples
    if feed is not None:
        time.sleep(2.0)  # frames still on their way
        reports = feed.finish()
        accepted = unpack_keys(agent_report["accepted_keys"])
        lost = [len(accepted - unpack_keys(report["received_keys"])) for report in reports]
        delivered = sum(report["summary"]["stamped"] for report in reports)
        latencies = _latencies([report["latencies"] for report in reports])
        sent_at = _latencies([report["sent_at"] for report in reports])
        result["dashboards"] = {
            "count": len(reports),
            "still_open": sum(1 for report in reports if report["open"]),
            "expected_per_dashboard": len(accepted),
            "frames_delivered": delivered,
            "frames_per_s": round(delivered / max(summary["seconds"], 1e-9), 1),
            "lost_frames": sum(lost),
            "dashboards_with_loss": sum(1 for item in lost if item),
            "delivery": summarize_latencies(latencies),
        }
        if burst is not None and result["timeline"]:
            ends = result["timeline"][0][0] + burst  # the first progress note: the run's start
            result["dashboards"]["burst_seconds"] = burst
            result["dashboards"]["delivery_burst"] = summarize_latencies(
                [latency for latency, sent in zip(latencies, sent_at, strict=True) if sent < ends]
            )
            result["dashboards"]["delivery_steady"] = summarize_latencies(
                [latency for latency, sent in zip(latencies, sent_at, strict=True) if sent >= ends]
            )
    return result


def _row(name: str, result: dict[str, Any], floor: float | None = None) -> dict[str, Any]:
    row = {
        "run": name,
        "agents": result["agents"],
        "accepted/s": result["accepted_per_s"],
        "p50 ms": result["latency"]["p50_ms"],
        "p99 ms": result["latency"]["p99_ms"],
        "max ms": result["latency"]["max_ms"],
        "rejected": result["rejected"],
        "errors": sum(result["errors"].values()),
    }
    if floor:
        row["x floor"] = round(result["accepted_per_s"] / floor, 2)
    feed = result.get("dashboards")
    if feed:
        row.update(
            {
                "dashboards": feed["count"],
                "frames/s": feed["frames_per_s"],
                "delivery p50": feed["delivery"]["p50_ms"],
                "delivery p99": feed["delivery"]["p99_ms"],
                "lost": feed["lost_frames"],
            }
        )
        if "delivery_burst" in feed:
            row["burst p99"] = feed["delivery_burst"]["p99_ms"]
            row["steady p99"] = feed["delivery_steady"]["p99_ms"]
    return row


def meets_delivery_bound(feed: dict[str, Any], bound_ms: float) -> bool:
    """No frame lost, and delivery p99 under the bound: overall, and in the burst and the
    steady state apart when the run gives them."""
    parts = [feed["delivery"], feed.get("delivery_burst"), feed.get("delivery_steady")]
    return feed["lost_frames"] == 0 and all(
        part["p99_ms"] is not None and part["p99_ms"] < bound_ms for part in parts if part is not None
    )


def with_backend(
    options: Options, agents: int, body: Any, env: dict[str, str] | None = None, **backend_options: Any
) -> Any:
    backend = Backend(workers=backend_options.pop("workers", options.workers), **backend_options)
    backend.env.update(env or {})
    try:
        backend.prepare(agents)
        backend.start()
        return body(backend)
    except Exception:
        print(backend.log_tail())
        raise
    finally:
        backend.cleanup()


# The scenarios.


def floor(options: Options, state: dict[str, Any]) -> dict[str, Any]:
    """The bare ASGI app on Daphne: what the server software itself does on this machine."""
    server = FloorServer().start()
    credentials = [["floor", "", "floor-token"]]
    try:
        rest = drive(
            url=server.url, credentials=credentials, agents=options.agents, duration=options.duration
        )
        ws = drive(
            url=server.url,
            credentials=credentials,
            agents=options.agents,
            duration=options.duration,
            transport="ws",
            window=options.window,
        )
        rss = server.rss()
    finally:
        server.stop()
        server.cleanup()
    state["floor_rest"] = rest["accepted_per_s"]
    state["floor_ws"] = ws["accepted_per_s"]
    return {
        "rest": rest,
        "ws": ws,
        "rss_mb": round(rss / 2**20, 1),
        "rows": [_row("floor rest", rest), _row("floor ws", ws)],
    }


def rest(options: Options, state: dict[str, Any]) -> dict[str, Any]:
    """REST handler at max rate (the realistic mix), one dashboard connected."""

    def body(backend: Backend) -> dict[str, Any]:
        return drive(
            url=backend.url("rest"),
            credentials=backend.credentials,
            agents=options.agents,
            duration=options.duration,
            dashboards=1,
            dashboard_url=backend.dashboard_url,
            dashboard_secret=backend.dashboard_secret,
            auth_url=backend.url("auth"),
        )

    result = with_backend(options, options.agents, body)
    name = f"rest max-rate, {options.workers} worker(s)"
    return {"max_rate": result, "rows": [_row(name, result, state.get("floor_rest"))]}


def ws(options: Options, state: dict[str, Any]) -> dict[str, Any]:
    """WebSocket handler at max rate, pipelined, with 1 and with ``dashboards`` dashboards."""

    def body(backend: Backend) -> dict[str, Any]:
        runs = {}
        for dashboards in sorted({1, options.dashboards}):
            runs[dashboards] = drive(
                url=backend.url("rest"),
                credentials=backend.credentials,
                agents=options.agents,
                duration=options.duration,
                transport="ws",
                window=options.window,
                dashboards=dashboards,
                dashboard_url=backend.dashboard_url,
                dashboard_secret=backend.dashboard_secret,
                auth_url=backend.url("auth"),
            )
        return runs

    runs = with_backend(options, options.agents, body)
    for result in runs.values():
        result["workers"] = options.workers
    rows = [
        _row(f"ws max-rate, {count} dashboard(s), {options.workers} worker(s)", result, state.get("floor_ws"))
        for count, result in runs.items()
    ]
    return {"max_rate": {str(count): result for count, result in runs.items()}, "rows": rows}


def fanout(
    options: Options, state: dict[str, Any], dashboards: int = 500, rate: float = 200.0
) -> dict[str, Any]:
    """``dashboards`` dashboards on one process while agents send ``rate`` dashboard messages a second."""
    agents = 20

    def body(backend: Backend) -> dict[str, Any]:
        before = backend.rss()
        return drive(
            url=backend.url("rest"),
            credentials=backend.credentials,
            agents=agents,
            duration=options.duration,
            transport="ws",
            mix="dashboard",
            rate_per_agent=rate / agents,
            dashboards=dashboards,
            dashboard_url=backend.dashboard_url,
            dashboard_secret=backend.dashboard_secret,
            auth_url=backend.url("auth"),
        ) | {"rss_before_mb": round(before / 2**20, 1)}

    result = with_backend(options, agents, body, workers=1)
    return {"fanout": result, "rows": [_row(f"fanout {dashboards} dashboards @ {rate:g} msg/s", result)]}


def storage(options: Options, state: dict[str, Any]) -> dict[str, Any]:
    """Statistics at max rate into PostgreSQL through the storage receivers, on one worker and
    on two: rows/s and lag."""

    def body(backend: Backend) -> dict[str, Any]:
        result = drive(
            url=backend.url("rest"),
            credentials=backend.credentials,
            agents=options.agents,
            duration=options.duration,
            transport="ws",
            window=options.window,
            mix="statistics",
            auth_url=backend.url("auth"),
            sample=lambda: sum(backend.count_rows().values()),
        )
        # Wait for the receivers to catch up (bounded), sampling the row count.
        deadline = time.time() + 30
        while time.time() < deadline:
            rows = sum(backend.count_rows().values())
            result["samples"].append((time.time(), rows))
            if rows >= result["accepted"]:
                break
            time.sleep(0.25)
        return result

    runs = {}
    rows = []
    for count in (1, 2):
        result = with_backend(options, options.agents, body, workers=count, postgres=True, redis=True)
        result["workers"] = count
        figures = _storage_figures(result.pop("timeline"), result.pop("samples"), result["accepted"])
        result["storage"] = figures
        runs[str(count)] = result
        row = _row(f"storage (statistics -> PostgreSQL), --workers {count}", result)
        row.update({"rows/s": figures["rows_per_s"], "lag p99 ms": figures["lag"]["p99_ms"]})
        rows.append(row)
    return {"runs": runs, "rows": rows}


def _storage_figures(timeline: list, samples: list, accepted: int) -> dict[str, Any]:
    """Rows/s between the first row and the last sample, and the lag of each sample: how long
    ago the agents had seen that many rows accepted."""
    rows = samples[-1][1] if samples else 0
    first = next((t for t, count in samples if count > 0), None)
    last = samples[-1][0] if samples else None
    lags = []
    for when, count in samples:
        accepted_at = next((t for t, seen in timeline if seen >= count), None)
        if accepted_at is not None and count:
            lags.append(max(0.0, when - accepted_at))
    return {
        "rows": rows,
        "rows_per_s": round(rows / max(1e-9, (last - first)), 1) if first and last and last > first else None,
        "lag": summarize_latencies(lags),
        "missing_rows": max(0, accepted - rows),
    }


def realistic(options: Options, state: dict[str, Any]) -> dict[str, Any]:
    """Realistic cadence with dashboards: the largest N with delivery p99 < 250 ms and no loss,
    in the burst (every agent connects and sends its first calls within the first second; the
    messages sent in the first ``REALISTIC_BURST_SECONDS``) and in the steady state after it."""
    plans = {"ws": [250, 500, 1000], "rest": [250, 500]}
    runs: dict[str, list[dict[str, Any]]] = {}
    rows = []
    largest: dict[str, int | None] = {}
    for transport, counts in plans.items():
        runs[transport] = []
        largest[transport] = None

        def body(backend: Backend, transport: str = transport, counts: list[int] = counts) -> None:
            for count in counts:
                result = drive(
                    url=backend.url("rest"),
                    credentials=backend.credentials[:count],
                    agents=count,
                    duration=max(options.duration, 2 * REALISTIC_BURST_SECONDS),
                    transport=transport,
                    mode="realistic",
                    dashboards=options.dashboards,
                    dashboard_url=backend.dashboard_url,
                    dashboard_secret=backend.dashboard_secret,
                    auth_url=backend.url("auth"),
                    ramp=1.0,
                    burst=REALISTIC_BURST_SECONDS,
                )
                result.pop("timeline", None)
                runs[transport].append(result)
                ok = meets_delivery_bound(result["dashboards"], REALISTIC_P99_MS)
                rows.append(_row(f"realistic {transport} N={count}", result) | {"met": ok})
                if not ok:
                    break
                largest[transport] = count

        with_backend(options, max(counts), body)
    return {"runs": runs, "largest_n": largest, "rows": rows}


#: The order of the ``workers`` scenario's REST runs: 1, 2, 2, 1 workers, so that a machine
#: getting faster or slower over the four runs weighs on both counts alike.
WORKER_COUNTS = (1, 2, 2, 1)


def workers(options: Options, state: dict[str, Any]) -> dict[str, Any]:
    """PostgreSQL + Redis: REST max rate with one worker and with two (dashboards on both), in
    the order of ``WORKER_COUNTS``, then the WebSocket max rate with two workers and
    ``dashboards`` dashboards. The speed-up is the two-worker runs' calls over the one-worker
    runs'."""
    results: dict[int, list[dict[str, Any]]] = {1: [], 2: []}
    rows = []
    for count in WORKER_COUNTS:

        def body(backend: Backend) -> dict[str, Any]:
            return drive(
                url=backend.url("rest"),
                credentials=backend.credentials,
                agents=options.agents,
                duration=options.duration,
                dashboards=4,
                dashboard_url=backend.dashboard_url,
                dashboard_secret=backend.dashboard_secret,
                auth_url=backend.url("auth"),
            )

        result = with_backend(options, options.agents, body, workers=count, postgres=True, redis=True)
        result["workers"] = count
        results[count].append(result)
        name = f"rest max-rate, PG+Redis, --workers {count} (run {len(results[count])})"
        rows.append(_row(name, result, state.get("floor_rest")))

    def ws_body(backend: Backend) -> dict[str, Any]:
        return drive(
            url=backend.url("rest"),
            credentials=backend.credentials,
            agents=options.agents,
            duration=options.duration,
            transport="ws",
            window=options.window,
            dashboards=options.dashboards,
            dashboard_url=backend.dashboard_url,
            dashboard_secret=backend.dashboard_secret,
            auth_url=backend.url("auth"),
        )

    ws_result = with_backend(options, options.agents, ws_body, workers=2, postgres=True, redis=True)
    ws_result["workers"] = 2
    name = f"ws max-rate, {options.dashboards} dashboard(s), PG+Redis, --workers 2"
    rows.append(_row(name, ws_result, state.get("floor_ws")))
    one, two = (sum(run["accepted_per_s"] for run in results[count]) for count in (1, 2))
    return {
        "runs": {str(key): value for key, value in results.items()},
        "ws": {"2": ws_result},
        "speedup": round(two / one, 2) if one else None,
        "rows": rows,
    }


def memory(options: Options, state: dict[str, Any], count: int = 1000) -> dict[str, Any]:
    """Resident memory of the server per connected dashboard and per active agent."""

    def body(backend: Backend) -> dict[str, Any]:
        base = backend.rss()
        feed = DashboardProcess(backend.dashboard_url, backend.dashboard_secret, count)
        feed.start()
        time.sleep(1.0)
        with_dashboards = backend.rss()
        feed.finish()
        time.sleep(1.0)
        before_agents = backend.rss()
        peak = [before_agents]
        result = drive(
            url=backend.url("rest"),
            credentials=backend.credentials,
            agents=count,
            duration=max(options.duration, 10.0),
            transport="ws",
            mode="realistic",
            auth_url=backend.url("auth"),
            sample=backend.rss,
        )
        peak = max(value for _, value in result["samples"]) if result["samples"] else before_agents
        return {
            "rss_idle_mb": round(base / 2**20, 1),
            "per_dashboard_kb": round((with_dashboards - base) / count / 1024, 1),
            "per_agent_kb": round((peak - before_agents) / count / 1024, 1),
        }

    result = with_backend(options, count, body, workers=1)
    rows = [
        {
            "run": f"memory ({count} dashboards, {count} ws agents)",
            "idle MB": result["rss_idle_mb"],
            "KB/dashboard": result["per_dashboard_kb"],
            "KB/agent": result["per_agent_kb"],
        }
    ]
    return {"memory": result, "rows": rows}


def ethstats(options: Options, state: dict[str, Any]) -> dict[str, Any]:
    """ethstats nodes (the go-ethereum profile) on the reference cadence (node-ping, latency, pending
    and stats every 15 s, a block every 5 s) with dashboards: the largest N with delivery p99 under
    250 ms and no loss, on one worker (embedded) and on two (PostgreSQL + Redis). Nodes share a
    secret: per-node logins cost a password hash each."""
    plans = {1: [250, 500, 1000, 2000], 2: [1000, 2000]}
    secret = secrets.token_urlsafe(16)
    runs: dict[str, list[dict[str, Any]]] = {}
    rows = []
    largest: dict[str, int | None] = {}
    for workers, counts in plans.items():
        runs[str(workers)] = []
        largest[str(workers)] = None

        def body(backend: Backend, workers: int = workers, counts: list[int] = counts) -> None:
            for count in counts:
                result = drive(
                    url=backend.url("ethstats"),
                    credentials=[],
                    agents=count,
                    duration=max(options.duration, 20.0),
                    transport="ethstats",
                    mode="realistic",
                    dashboards=options.dashboards,
                    dashboard_url=backend.dashboard_url,
                    dashboard_secret=backend.dashboard_secret,
                    simulation={"profile": "go-ethereum", "secret": secret},
                )
                result.pop("timeline", None)
                result["workers"] = workers
                runs[str(workers)].append(result)
                feed = result["dashboards"]
                p99 = feed["delivery"]["p99_ms"]
                ok = p99 is not None and p99 < REALISTIC_P99_MS and feed["lost_frames"] == 0
                rows.append(
                    _row(f"ethstats go-ethereum N={count}, --workers {workers}", result) | {"met": ok}
                )
                if not ok:
                    break
                largest[str(workers)] = count

        shared = {"postgres": True, "redis": True} if workers > 1 else {}
        with_backend(options, 0, body, env={"POA_ETHSTATS_SECRETS": secret}, workers=workers, **shared)
    return {"runs": runs, "largest_n": largest, "rows": rows}


SCENARIOS = {
    "floor": floor,
    "rest": rest,
    "ws": ws,
    "fanout": fanout,
    "storage": storage,
    "realistic": realistic,
    "workers": workers,
    "memory": memory,
    "ethstats": ethstats,
}
