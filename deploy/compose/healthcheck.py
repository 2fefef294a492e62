#!/usr/bin/env python3
"""Container health checks of the hub image, exit status 0 (healthy) or 1.

``hub-healthcheck console`` asks the console that this container serves for
``GET /api/health`` over HTTPS, verified against the hub's private CA, with an
operator token read from a file. ``hub-healthcheck adapter`` asks an adapter's
record listener (loopback) for ``GET /health``: 200 while its event loop answers. Standard library
only, so it runs in the image without extra packages; it prints one line and never
the token. docs/deploy.md, "Health", says what each check proves.
"""

from __future__ import annotations

import argparse
import http.client
import ssl
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Final

CONSOLE_URL: Final = "https://127.0.0.1:8443/api/health"
TOKEN_FILE: Final = Path("/run/secrets/healthcheck-token")
CA_FILE: Final = Path("/etc/hub/tls/ca.pem")
ADAPTER_PORT: Final = 8081
TIMEOUT_SECONDS: Final = 5.0


def console_healthy(url: str, token_file: Path, ca_file: Path) -> bool:
    """Return whether the console at ``url`` answers 200 to an authorised GET."""
    token = token_file.read_text(encoding="ascii").strip()
    context = ssl.create_default_context(cafile=str(ca_file))
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})  # noqa: S310 - the URL is the fixed https console
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS, context=context) as reply:  # noqa: S310
            return bool(reply.status == http.client.OK)
    except (urllib.error.URLError, OSError):
        return False


def adapter_alive(port: int) -> bool:
    """Return whether the adapter's record listener on loopback ``port`` answers."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT_SECONDS)
    try:
        connection.request("GET", "/health")
        return connection.getresponse().status == http.client.OK
    except OSError:
        return False
    finally:
        connection.close()


def main(argv: list[str] | None = None) -> int:
    """Run one check; return 0 when healthy, 1 otherwise."""
    parser = argparse.ArgumentParser(prog="hub-healthcheck", description=__doc__.splitlines()[0])
    checks = parser.add_subparsers(dest="check", required=True)
    console = checks.add_parser("console")
    console.add_argument("--url", default=CONSOLE_URL)
    console.add_argument("--token-file", type=Path, default=TOKEN_FILE)
    console.add_argument("--ca", type=Path, default=CA_FILE)
    adapter = checks.add_parser("adapter")
    adapter.add_argument("--port", type=int, default=ADAPTER_PORT)
    args = parser.parse_args(argv)
    if args.check == "console":
        try:
            healthy = console_healthy(args.url, args.token_file, args.ca)
        except (OSError, UnicodeDecodeError, ssl.SSLError):
            healthy = False
    else:
        healthy = adapter_alive(args.port)
    print("healthy" if healthy else "unhealthy")  # noqa: T201 - docker keeps the last line
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())
