"""``hub witness``: a partner agency's witness of a hub's ledger (ADR 0026).

    hub witness keygen --name witness.police.example --out police-witness.key
    hub witness keygen --name witness.police.example/pq --ml-dsa --out police-witness-pq.key
    hub witness serve --config witness.toml

``keygen`` writes a note signer key (readable by its owner only) and prints its
verifier key, which goes into the hub's witness policy. ``serve`` runs the witness
until SIGINT or SIGTERM.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hub.crypto import COSIGNATURE, MLDSA_COSIGNATURE, NoteSigner
from hub.errors import HubError
from hub.logs import configure
from hub.witness import WitnessConfig, serve_witness

if TYPE_CHECKING:
    import argparse


def add_commands(subparsers: Any) -> None:
    """Add ``witness keygen|serve`` to the ``hub`` command's subparsers."""
    witness = subparsers.add_parser(
        "witness", help="witness a hub's ledger for a partner agency"
    ).add_subparsers(dest="witness", required=True)
    keygen = witness.add_parser("keygen", help="make a witness's cosigning key")
    keygen.add_argument("--name", required=True, help="the witness's name, a schema-less URL")
    keygen.add_argument(
        "--ml-dsa", action="store_true", help="an ML-DSA-44 key (type 0x06), not Ed25519 (0x04)"
    )
    keygen.add_argument("--out", required=True, type=Path, help="the key file to write")
    keygen.set_defaults(func=witness_keygen)
    serve = witness.add_parser("serve", help="run the witness (C2SP tlog-witness)")
    serve.add_argument("--config", required=True, type=Path, help="the witness's TOML file")
    serve.set_defaults(func=witness_serve)


def witness_keygen(args: argparse.Namespace) -> int:
    """Write a new cosigning key; print its verifier key."""
    signer = NoteSigner.generate(args.name, MLDSA_COSIGNATURE if args.ml_dsa else COSIGNATURE)
    out: Path = args.out
    try:
        descriptor = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise HubError("witness.key_exists", f"{out} exists; a witness keeps its key") from None
    with os.fdopen(descriptor, "w", encoding="ascii") as handle:
        handle.write(f"{signer}\n")
    sys.stdout.write(f"{signer.verifier}\n")
    return 0


def witness_serve(args: argparse.Namespace) -> int:
    """Serve the witness of ``--config``."""
    config = WitnessConfig.load(args.config)
    configure("auto", "INFO")
    return asyncio.run(serve_witness(config, ready=lambda url: print(f"witness at {url}")))
