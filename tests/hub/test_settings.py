"""Worker settings: file, environment, and errors that name the setting."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from hub.settings import SettingsError, load_settings

if TYPE_CHECKING:
    from pathlib import Path


def _config(tmp_path: Path, extra: str = "") -> Path:
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "hub.private.jwks.json").write_text("{}")
    (tmp_path / "ledger.key").write_text("k")
    path = tmp_path / "hub.toml"
    path.write_text(
        'keys_dir = "keys"\nprivate_keys = "keys/hub.private.jwks.json"\n'
        'ledger_key_file = "ledger.key"\nledger_url = "sqlite:///x.db"\n' + extra
    )
    return path


def test_file_settings_resolve_relative_paths(tmp_path: Path) -> None:
    """Relative paths in the file are relative to the file; defaults fill the rest."""
    settings = load_settings(_config(tmp_path))
    assert settings.keys_dir == tmp_path / "keys"
    assert settings.prefetch == 32
    assert settings.broker_url.get_secret_value() == "memory://"


def test_environment_beats_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """HUB_* variables override the file."""
    monkeypatch.setenv("HUB_PREFETCH", "7")
    assert load_settings(_config(tmp_path, "prefetch = 3\n")).prefetch == 7


@pytest.mark.parametrize(
    ("extra", "setting"),
    [
        ("prefetch = 0\n", "prefetch"),
        ('broker_url = "http://user:secret@127.0.0.1"\n', "broker_url"),
        ('agreements_dir = "missing"\n', "agreements_dir"),
        ("colour = 1\n", "colour"),
    ],
)
def test_bad_setting_is_named_and_its_value_not_echoed(
    tmp_path: Path, extra: str, setting: str
) -> None:
    """A bad setting raises an error naming it, without the value."""
    with pytest.raises(SettingsError) as caught:
        load_settings(_config(tmp_path, extra))
    assert caught.value.setting == setting
    assert "secret" not in str(caught.value)


def test_missing_required_setting(tmp_path: Path) -> None:
    """A required setting left out is named."""
    path = tmp_path / "hub.toml"
    path.write_text('ledger_url = "sqlite:///x.db"\n')
    with pytest.raises(SettingsError) as caught:
        load_settings(path)
    assert caught.value.setting == "keys_dir"


@pytest.mark.parametrize(
    ("extra", "missing"),
    [
        ('evaluation_area = "northshire"\n', "evaluation_model, linkage_key_file"),
        ('evaluation_model = "clinic"\nlinkage_key_file = "ledger.key"\n', "evaluation_area"),
    ],
)
def test_the_evaluation_feed_is_configured_whole_or_not_at_all(
    tmp_path: Path, extra: str, missing: str
) -> None:
    """Area, model and linkage key together; any one alone names the others."""
    with pytest.raises(SettingsError) as caught:
        load_settings(_config(tmp_path, extra), environment=False)
    assert caught.value.code == "settings.invalid"
    assert f"needs {missing} as well" in caught.value.detail
    whole = 'evaluation_area = "northshire"\nevaluation_model = "clinic"\n'
    (tmp_path / "b").mkdir()
    (tmp_path / "c").mkdir()
    settings = load_settings(
        _config(tmp_path / "b", whole + 'linkage_key_file = "ledger.key"\n'), environment=False
    )
    assert settings.feeds_evaluation
    assert not load_settings(_config(tmp_path / "c"), environment=False).feeds_evaluation


def test_a_linkage_key_others_can_read_is_refused_by_name(tmp_path: Path) -> None:
    """The feed will not start on a key file group or others can read, nor echo the key."""
    from hub.context import evaluation_feed  # noqa: PLC0415
    from hub.ledger import generate_ledger_key  # noqa: PLC0415

    generate_ledger_key(tmp_path / "linkage.key")
    extra = 'evaluation_area = "northshire"\nevaluation_model = "clinic"\n'
    extra += 'linkage_key_file = "linkage.key"\n'
    settings = load_settings(_config(tmp_path, extra), environment=False)
    feed = evaluation_feed(settings)
    assert feed is not None
    assert feed.area.id == "northshire"
    (tmp_path / "linkage.key").chmod(0o644)
    with pytest.raises(SettingsError) as caught:
        evaluation_feed(settings)
    assert caught.value.setting == "linkage_key_file"
    assert "0600" in caught.value.detail
