"""A partner agency's witness of a hub's ledger (C2SP tlog-witness; ADR 0026).

``hub witness serve --config FILE`` runs :func:`witness_app` over a
:class:`WitnessState`: it cosigns a hub's checkpoint notes only when each extends
the last one it cosigned, remembers that durably, and keeps evidence of any
second history for the agency's IG officer.
"""

from hub.witness.app import CheckpointRefusedError, Witness, parse_request, witness_app
from hub.witness.config import WitnessConfig, WitnessConfigError
from hub.witness.serve import serve_witness, start_witness
from hub.witness.state import Cosigned, Evidence, WitnessState, WitnessStateError

__all__ = [
    "CheckpointRefusedError",
    "Cosigned",
    "Evidence",
    "Witness",
    "WitnessConfig",
    "WitnessConfigError",
    "WitnessState",
    "WitnessStateError",
    "parse_request",
    "serve_witness",
    "start_witness",
    "witness_app",
]
