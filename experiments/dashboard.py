"""`acsim dashboard`: the Mesa model in Mesa's SolaraViz, served on a local address only.

Needs the `viz` extra (pip install "acsim[viz]"). The page is acsim.experiments.dashboard_app;
this module only checks the address and starts Solara's server on it (Solara's own telemetry
off), so `acsim dashboard --help` imports neither Solara nor Mesa.
"""

from __future__ import annotations

import argparse
import importlib.util
import ipaddress
import os
import subprocess
import sys

from acsim.strategies.errors import AcsimError, ParameterError

APP = "acsim.experiments.dashboard_app"
DESCRIPTIONS = {
    "dashboard": "Watch the Mesa model run in your browser (Mesa's SolaraViz): sliders for the "
                 "market, the ensemble and the strategy (applied at Reset); price and fills, "
                 "field and counts, holdings and trades, the agents' types, and the strategies "
                 "compared. Serves on a loopback address only. Needs pip install 'acsim[viz]'.",
}


def add_arguments(name: str, parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1",
                        help="a loopback address to serve on: 127.0.0.1 (default), another "
                             "127.x.x.x, ::1 or localhost; nothing else is accepted")
    parser.add_argument("--port", type=int, default=8765,
                        help="TCP port, 1..65535, or 0 for a free one (default 8765)")
    parser.add_argument("--open", action="store_true", help="open the page in a web browser")


def loopback_host(host: str) -> str:
    """The host if it is a loopback address (or 'localhost'), else a named error."""
    if host == "localhost":
        return host
    try:
        if ipaddress.ip_address(host).is_loopback:
            return host
    except ValueError:
        pass
    raise ParameterError(f"--host must be a loopback address (127.0.0.1, another 127.x.x.x, "
                         f"::1 or localhost): the dashboard is served locally only, got {host!r}")


def solara_command(host: str, port: int, open_browser: bool) -> list[str]:
    """The command line that serves the page (Solara's production mode, no reloader)."""
    if not 0 <= port <= 65535:
        raise ParameterError(f"--port must be in 0..65535, got {port}")
    return [sys.executable, "-m", "solara", "run", APP, "--host", loopback_host(host),
            "--port", str(port), "--production", "--open" if open_browser else "--no-open"]


def run(name: str, args: argparse.Namespace) -> None:
    command = solara_command(args.host, args.port, args.open)
    if importlib.util.find_spec("solara") is None:
        raise AcsimError("the dashboard needs the viz extra: pip install 'acsim[viz]'")
    environment = {**os.environ, "SOLARA_TELEMETRY_MIXPANEL_ENABLE": "False"}
    host = f"[{args.host}]" if ":" in args.host else args.host
    where = f"http://{host}:{args.port}" if args.port else f"http://{host} on a free port"
    print(f"acsim dashboard: {where} (Ctrl-C stops it)", flush=True)
    try:
        finished = subprocess.run(command, env=environment)
    except KeyboardInterrupt:
        return
    if finished.returncode not in (0, -2):
        raise AcsimError(f"the dashboard's server stopped with exit code {finished.returncode}")
