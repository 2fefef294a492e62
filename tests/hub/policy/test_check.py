"""`hub agreements check`: the matrix, conflicts with safety rules, and exit codes."""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING

from hub.cli import main

from .conftest import DEPLOY

if TYPE_CHECKING:
    from pathlib import Path

    import pytest

GRANT_G_TO_HEALTH = (
    (
        'id = "advocacy-to-health-core"\nprovider = "advocacy"\nrecipient = "health"\n'
        'event_types = ["ReferralReceived", "VictimSafetyPlanUpdated"]\ngroups = ["A", "C", "E"]'
    ),
    (
        'id = "advocacy-to-health-core"\nprovider = "advocacy"\nrecipient = "health"\n'
        'event_types = ["ReferralReceived", "VictimSafetyPlanUpdated"]\n'
        'groups = ["A", "C", "E", "G"]'
    ),
)


def _deploy_copy(tmp_path: Path, edit: tuple[str, str] | None = None) -> Path:
    target = tmp_path / "deploy"
    shutil.copytree(DEPLOY, target, ignore=shutil.ignore_patterns("rabbitmq", "dev"))
    if edit is not None:
        path = target / "agreements" / "masip-exampleshire.toml"
        text = path.read_text()
        assert edit[0] in text
        path.write_text(text.replace(*edit))
    return target / "agreements"


def test_check_prints_the_matrix(capsys: pytest.CaptureFixture[str]) -> None:
    """The default agreements check clean and the matrix shows G to police, never to health."""
    assert (
        main(["agreements", "check", str(DEPLOY / "agreements"), "--at", "2026-11-21T00:00:00Z"])
        == 0
    )
    out = capsys.readouterr().out
    header = next(line for line in out.splitlines() if line.startswith("provider"))
    columns = header.split()
    row = next(
        line for line in out.splitlines() if line.startswith("advocacy   VictimSafetyPlanUpdated")
    )
    cells = dict(zip(columns[3:], row.split()[2:], strict=True))
    assert cells == {"advocacy": "-", "health": "AE", "police": "AEFGH", "probation": "AEF"}
    assert "0 conflict(s)" in out


def test_conflicting_clause_is_reported_and_rule_wins(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A clause granting G to health is named as a conflict; the matrix still withholds G."""
    folder = _deploy_copy(tmp_path, GRANT_G_TO_HEALTH)
    assert main(["agreements", "check", str(folder), "--at", "2026-11-21T00:00:00Z"]) == 0
    out = capsys.readouterr().out
    assert (
        "conflict: masip-exampleshire.toml: clause advocacy-to-health-core grants G; "
        "rule victim-location-never-to-perpetrator-facing withholds it" in out
    )
    row = next(
        line for line in out.splitlines() if line.startswith("advocacy   VictimSafetyPlanUpdated")
    )
    assert "G" not in row.split()[3]
    assert main(["agreements", "check", str(folder), "--strict"]) == 1
    assert "error policy.conflict" in capsys.readouterr().err


def test_invalid_agreement_exits_non_zero_naming_file_clause_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An invalid clause fails the check with its file, clause and field, and no traceback."""
    folder = _deploy_copy(tmp_path, ('purpose = "support-victims"', 'purpose = "marketing"'))
    assert main(["agreements", "check", str(folder)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error policy.invalid: masip-exampleshire.toml: clauses[")
    assert "].purpose: not a declared purpose" in err
    assert "Traceback" not in err
