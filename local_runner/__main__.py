"""`python -m local_runner`: host function_app.app locally, optionally with Azurite (what `make run` does)."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
from pathlib import Path

from local_runner.azurite import Azurite
from local_runner.config import load_host_config, load_local_settings
from local_runner.functions import index, load_app
from local_runner.host import Endpoint, Host, PortInUseError
from local_runner.queues import MESSAGE_LEASE_SECONDS

logger = logging.getLogger("local_runner")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local_runner", description=__doc__)
    parser.add_argument("--script-root", type=Path, default=Path.cwd(), help="folder with host.json (default: .)")
    parser.add_argument("--app", default="function_app", help="module[:attribute] of the FunctionApp")
    parser.add_argument(
        "--settings", type=Path, help="local settings file (default: <script root>/local.settings.json)"
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, help="HTTP port (default: Host.LocalHttpPort or 7071)")
    parser.add_argument(
        "--message-lease",
        type=int,
        default=MESSAGE_LEASE_SECONDS,
        help="seconds a received queue message stays invisible, renewed while its function runs (default: 600)",
    )
    parser.add_argument("--azurite", action="store_true", help="start Azurite on its default ports first")
    parser.add_argument("--azurite-location", type=Path, default=Path(".azurite"), help="Azurite's data folder")
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    for noisy in ("azure", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    root = args.script_root.resolve()
    settings_file = args.settings or root / "local.settings.json"
    load_local_settings(settings_file)
    port = args.port or _local_http_port(settings_file) or 7071
    sys.path.insert(0, str(root))

    azurite = Azurite(args.azurite_location.resolve()) if args.azurite else None
    if azurite is not None:
        if azurite.ports_in_use():
            logger.info("Storage ports 10000-10002 are taken: using the Azurite (or other emulator) already there")
            azurite = None
        else:
            azurite.start()
            logger.info("Azurite started (data in %s)", azurite.location)
    try:
        host = Host(index(load_app(args.app)), load_host_config(root / "host.json"), message_lease=args.message_lease)
        asyncio.run(_serve(host, Endpoint(args.host, port)))
    except PortInUseError as exc:
        logger.error(
            "%s (another `make run` or `func start`?). Stop it, or choose another port: "
            "make run RUN_ARGS='--port 7072', or Host.LocalHttpPort in local.settings.json.",
            exc,
        )
        return 1
    finally:
        if azurite is not None:
            azurite.stop()
            logger.info("Azurite stopped")
    return 0


async def _serve(host: Host, endpoint: Endpoint) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, host.stop)
    await host.serve(endpoint)


def _local_http_port(settings_file: Path) -> int | None:
    if not settings_file.exists():
        return None
    port = json.loads(settings_file.read_text()).get("Host", {}).get("LocalHttpPort")
    return int(port) if port else None


if __name__ == "__main__":
    sys.exit(main())
