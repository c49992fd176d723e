"""Simulate N agents against a running backend, with live progress and a summary.

Against a backend on this machine the agents' credentials are made directly in this
database (it is the backend's when both run from the same settings): users ``<prefix>-00000``...
with tokens issued here. Elsewhere give ``--user``/``--password`` of an agent user: every
simulated agent gets its own token from ``--auth-url``.

``--transport ethstats`` runs Ethereum nodes' built-in reporters instead (``--profile``:
go-ethereum, besu, nethermind, reth, erigon, eth-net-intelligence-api) against the ethstats
handler's listener (``--url``, default port 3000), each logging in as its local agent user,
or all with ``--secret``.
"""

import asyncio
import sys
from typing import Any
from urllib.parse import urlsplit

from django.core.management.base import BaseCommand, CommandError, CommandParser

from simulator.ethstats import PROFILES
from simulator.runner import MODES, TRANSPORTS, Simulation, run_simulation
from simulator.stats import Recorder
from simulator.transports import Credentials

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
DEFAULT_URL = "http://127.0.0.1:4002"
DEFAULT_ETHSTATS_URL = "http://127.0.0.1:3000"


def local_auth_url() -> str:
    """The auth listener of this database's ``auth`` handler row, on this machine."""
    from handlers.models import CustomHandler

    row = CustomHandler.objects.filter(name="auth", enabled=True).first()
    if row is None or not isinstance(row.options, dict) or "port" not in row.options:
        return ""
    return f"{row.options.get('scheme', 'https')}://127.0.0.1:{row.options['port']}"


class Command(BaseCommand):
    help = "Run N simulated agents (the reference agent's payloads and cadence) against a backend."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("agents", type=int, help="How many agents.")
        parser.add_argument(
            "--url", default=DEFAULT_URL, help="The handlers' listener (ethstats: default port 3000)."
        )
        parser.add_argument("--transport", choices=TRANSPORTS, default="rest")
        parser.add_argument("--mode", choices=MODES, default="realistic", help="Cadence, or max rate.")
        parser.add_argument("--duration", type=float, default=60.0, help="Seconds to run (default 60).")
        parser.add_argument("--auth-url", default="", help="The auth listener (for /session).")
        parser.add_argument("--user", default="", help="An agent user (else made locally).")
        parser.add_argument("--password", default="")
        parser.add_argument("--prefix", default="sim", help="Name prefix of local users and agent ids.")
        parser.add_argument("--verify-tls", action="store_true", help="Check the auth certificate.")
        parser.add_argument("--window", type=int, default=16, help="WebSocket calls in flight per agent.")
        parser.add_argument(
            "--profile",
            choices=list(PROFILES),
            default="go-ethereum",
            help="ethstats: the client to simulate.",
        )
        parser.add_argument("--secret", default="", help="ethstats: a shared secret (else per-node users).")

    def handle(self, *args: Any, **options: Any) -> None:
        count = options["agents"]
        if count < 1:
            raise CommandError("agents: give at least 1")
        host = urlsplit(options["url"]).hostname or ""
        auth_url = options["auth_url"]
        if options["transport"] == "ethstats" and options["url"] == DEFAULT_URL:
            options["url"] = DEFAULT_ETHSTATS_URL
        if options["transport"] == "ethstats" and options["secret"]:
            credentials = []
        elif options["user"]:
            credentials = [Credentials(options["user"], options["password"])]
            if not auth_url:
                raise CommandError("--auth-url is needed to get tokens for --user")
        elif host in LOCAL_HOSTS:
            from simulator.credentials import local_credentials

            credentials = local_credentials(options["prefix"], count)
            auth_url = auth_url or local_auth_url()
            self.stdout.write(f"made {count} agent users {options['prefix']}-00000... in the local database")
        else:
            raise CommandError("a remote backend needs --user, --password and --auth-url")

        simulation = Simulation(
            url=options["url"],
            agents=count,
            credentials=credentials,
            transport=options["transport"],
            mode=options["mode"],
            duration=options["duration"],
            auth_url=auth_url,
            verify_tls=options["verify_tls"],
            window=options["window"],
            stamp=False,
            id_prefix=options["prefix"],
            profile=options["profile"],
            secret=options["secret"],
        )
        last = {"accepted": 0, "at": 0.0}

        def progress(recorder: Recorder) -> None:
            elapsed = recorder.elapsed
            rate = (recorder.accepted - last["accepted"]) / max(1e-9, elapsed - last["at"])
            last.update(accepted=recorder.accepted, at=elapsed)
            rejected = sum(recorder.rejected.values())
            errors = sum(recorder.errors.values())
            self.stdout.write(
                f"\r{elapsed:6.1f}s  sent {recorder.sent}  accepted {recorder.accepted}  "
                f"rejected {rejected}  errors {errors}  {rate:,.0f} msg/s   ",
                ending="",
            )
            self.stdout.flush()

        self.stdout.write(
            f"{count} agents over {options['transport']} to {options['url']} "
            f"({options['mode']}, {options['duration']:g} s)"
        )
        try:
            recorder = asyncio.run(run_simulation(simulation, progress=progress))
        except KeyboardInterrupt:
            sys.exit(130)
        summary = recorder.summary()
        latency = summary["latency"]
        self.stdout.write("")
        self.stdout.write(
            f"sent {summary['sent']}, accepted {summary['accepted']} ({summary['accepted_per_s']:,} msg/s), "
            f"rejected {summary['rejected']}, errors {sum(summary['errors'].values())}"
        )
        self.stdout.write(
            f"latency p50 {latency['p50_ms']} ms, p99 {latency['p99_ms']} ms, max {latency['max_ms']} ms"
        )
        for reason, number in sorted(summary["rejected_by_reason"].items()):
            self.stdout.write(f"  rejected {reason}: {number}")
        for reason, number in sorted(summary["errors"].items()):
            self.stdout.write(f"  error {reason}: {number}")
        if summary["renewals"]:
            self.stdout.write(f"  tokens renewed: {summary['renewals']}")
