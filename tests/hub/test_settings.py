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
