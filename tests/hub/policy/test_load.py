"""Loading agreements: errors name the file, the clause and the field."""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING

import pytest

from hub.policy.base import PolicyError
from hub.policy.load import load_policy

from .conftest import DEPLOY

if TYPE_CHECKING:
    from pathlib import Path


def _folder(tmp_path: Path, edit: tuple[str, str] | None = None) -> Path:
    folder = tmp_path / "agreements"
    shutil.copytree(DEPLOY / "agreements", folder)
    if edit is not None:
        path = folder / "masip-exampleshire.toml"
        text = path.read_text()
        assert edit[0] in text
        path.write_text(text.replace(edit[0], edit[1], 1))
    return folder


def _load(folder: Path) -> object:
    return load_policy(folder, DEPLOY / "parties.toml", DEPLOY / "rules.toml")


def test_default_policy_loads_and_hash_is_stable(tmp_path: Path) -> None:
    """The shipped agreements load, and the same documents give the same policy hash."""
    first = load_policy(DEPLOY / "agreements", DEPLOY / "parties.toml", DEPLOY / "rules.toml")
    second = load_policy(_folder(tmp_path), DEPLOY / "parties.toml", DEPLOY / "rules.toml")
    assert first.hash == second.hash
    assert len(first.agreements[0].clauses) == 24


@pytest.mark.parametrize(
    ("edit", "where", "what"),
    [
        (
            ('groups = ["A", "B", "C", "E", "F", "G"]', 'groups = ["A", "Z"]'),
            "clauses[probation-to-police-core].groups",
            "Input should be",
        ),
        (
            ('recipient = "probation"', 'recipient = "prison"'),
            "clauses[police-to-probation-core].recipient",
            "not a party",
        ),
        (
            (
                'event_types = ["ReferralReceived", "ScreeningCompleted"',
                'event_types = ["ReferalReceived", "ScreeningCompleted"',
            ),
            "clauses[police-to-probation-core].event_types",
            "unknown event types",
        ),
        (
            (
                'lawful_basis = { regime = "dpa2018_part3", schedule8 = "para 4" }',
                'lawful_basis = { regime = "uk_gdpr", schedule8 = "para 4" }',
            ),
            "clauses[police-to-probation-core].lawful_basis",
            "article6",
        ),
        (
            (
                "valid_until = 2028-03-31\nreview_date = 2027-04-01\n\n[[parties]]",
                (
                    "valid_until = 2028-03-31\nreview_date = 2027-04-01\n"
                    "secret_extra = 1\n\n[[parties]]"
                ),
            ),
            "secret_extra",
            "Extra inputs",
        ),
        (("version = 1", "version = 0"), "version", "greater than or equal"),
    ],
    ids=[
        "bad-group",
        "unknown-recipient",
        "unknown-event-type",
        "incomplete-basis",
        "extra-field",
        "version",
    ],
)
def test_invalid_agreement_names_file_clause_and_field(
    tmp_path: Path, edit: tuple[str, str], where: str, what: str
) -> None:
    """Each kind of mistake is reported with the file, the clause id and the field."""
    with pytest.raises(PolicyError) as caught:
        _load(_folder(tmp_path, edit))
    assert caught.value.code == "policy.invalid"
    assert "masip-exampleshire.toml" in caught.value.location
    assert where in caught.value.location
    assert what in caught.value.detail


def test_clinical_clause_without_special_category_basis_is_invalid(tmp_path: Path) -> None:
    """Granting D needs an Art 9 or Sch 8 condition."""
    edit = (
        (
            'lawful_basis = { regime = "uk_gdpr", article6 = "6(1)(e)", '
            'article9 = "9(2)(g)", schedule1 = "para 10" }'
        ),
        'lawful_basis = { regime = "uk_gdpr", article6 = "6(1)(e)" }',
    )
    folder = _folder(tmp_path)
    path = folder / "masip-exampleshire.toml"
    path.write_text(path.read_text().replace(*edit))
    with pytest.raises(PolicyError) as caught:
        _load(folder)
    assert "clinical detail (D)" in caught.value.detail
    assert "health-to-police-clinical-summary" in caught.value.location


def test_not_toml_and_empty_folder(tmp_path: Path) -> None:
    """A file that is not TOML, and a folder without agreements, are clear errors."""
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(PolicyError, match=r"no \*\.toml"):
        _load(empty)
    folder = _folder(tmp_path)
    (folder / "broken.toml").write_text("id = [")
    with pytest.raises(PolicyError) as caught:
        _load(folder)
    assert caught.value.location == str(folder / "broken.toml")


def test_same_agreement_version_twice_is_refused(tmp_path: Path) -> None:
    """Two files holding the same agreement id and version are refused."""
    folder = _folder(tmp_path)
    shutil.copy(folder / "masip-exampleshire.toml", folder / "zz-copy.toml")
    with pytest.raises(PolicyError, match=r"also in masip-exampleshire\.toml"):
        _load(folder)


def test_a_party_id_naming_a_region_is_refused() -> None:
    """``region-...`` is the regional link's routing key (ADR 0010), so no party may use it."""
    from pydantic import ValidationError  # noqa: PLC0415

    from hub.policy.rules import Party, PartyKind  # noqa: PLC0415

    police = PartyKind.POLICE
    with pytest.raises(ValidationError, match="region"):
        Party(id="region-south", name="Fictional region", kind=police)
    assert Party(id="regional-police", name="Fictional force", kind=police).id == "regional-police"
