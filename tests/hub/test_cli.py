"""The `hub` command line: demo, schema check and errors without tracebacks."""

from __future__ import annotations

import re
import shutil
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import structlog

from hub.cli import main
from hub.ledger.pseudonyms import generate_ledger_key

if TYPE_CHECKING:
    from collections.abc import Iterator

SCHEMA_DIR = Path(__file__).parents[2] / "schemas" / "json"


@pytest.fixture(autouse=True)
def _default_logging() -> Iterator[None]:
    """`hub run` configures logging for the process; put the defaults back after each test."""
    yield
    structlog.reset_defaults()


def test_demo_plays_a_case_through_the_pipeline(capsys: pytest.CaptureFixture[str]) -> None:
    """`hub demo` plays a case through the adapters, refuses one event, verifies the ledger."""
    assert main(["demo"]) == 0
    lines = capsys.readouterr().out.splitlines()
    steps = [line for line in lines if line[:3].strip().rstrip(".").isdigit()]
    assert len(steps) == 11
    assert " sender.not_entitled " in steps[-1]
    assert all(" disclosed " in step for step in steps[:-1])
    assert sum("(native)" in step for step in steps) == 10
    plan = lines.index(next(line for line in lines if "VictimSafetyPlanUpdated  disclosed" in line))
    health = next(line for line in lines[plan + 1 : plan + 4] if "-> health" in line)
    assert "gets AE " in health
    assert "withheld FGH" in health
    assert any("health was told" in line and "sender.not_entitled" in line for line in lines)
    assert lines[-1].startswith("ledger intact: 35 entries, checkpoint at size 35")


def test_schemas_check_passes_on_committed_schemas(capsys: pytest.CaptureFixture[str]) -> None:
    """The committed JSON Schemas match the models."""
    assert main(["schemas", "check"]) == 0
    assert "up to date" in capsys.readouterr().out


def test_schemas_check_names_a_stale_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A changed schema file fails the check with a stable code and its name."""
    shutil.copytree(SCHEMA_DIR, tmp_path / "json")
    victim = min((tmp_path / "json").glob("*.json"))
    victim.write_text(victim.read_text().replace('"type"', '"kind"', 1))
    assert main(["schemas", "check", "--out", str(tmp_path / "json")]) == 1
    err = capsys.readouterr().err
    assert "error schemas.stale" in err
    assert victim.name in err


def test_bad_arguments_exit_2_without_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    """An invalid party id is a usage error in the form of every error, then the usage."""
    assert main(["keys", "init", "--party", "Police Service", "--out", "x"]) == 2
    first, usage, *_ = capsys.readouterr().err.splitlines()
    assert first == (
        "error usage.invalid: argument --party: party ids are 2-32 of a-z, 0-9 and -, starting a-z"
    )
    assert usage.startswith("usage: hub keys init ")


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        ([], "the following arguments are required: command"),
        (["keys"], "the following arguments are required: keys"),
        (["ledger"], "argument command: invalid choice: 'ledger'"),
        (["audit", "verify", "--ledger", "sqlite:///x.db"], "required: --keys"),
        (["keys", "list", "k", "--at", "yesterday"], "argument --at: expected an ISO 8601 time"),
        (["run", "--console-port", "many"], "argument --console-port: invalid int value"),
    ],
)
def test_every_usage_error_takes_the_one_form(
    argv: list[str], said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Unknown commands, missing and malformed arguments: ``error usage.invalid: ...``, exit 2."""
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error usage.invalid: ")
    assert said in err.splitlines()[0]
    assert "Traceback" not in err


def test_version_names_the_installed_release(capsys: pytest.CaptureFixture[str]) -> None:
    """``hub --version`` prints the version the package was installed as, and exits 0."""
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.strip() == f"hub {version('case-event-hub')}"


def test_unreadable_key_folder_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A corrupt public key file is reported with a stable code and its file name."""
    (tmp_path / "police.jwks.json").write_text("{not json")
    assert main(["keys", "list", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "error keys.unreadable" in err
    assert "police.jwks.json" in err


def test_run_with_a_bad_config_names_the_setting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`hub run` with a missing or invalid settings file fails naming the problem."""
    assert main(["run", "--config", str(tmp_path / "missing.toml")]) == 1
    assert "error settings.invalid: --config" in capsys.readouterr().err
    config = tmp_path / "hub.toml"
    config.write_text('keys_dir = "nowhere"\n')
    assert main(["run", "--config", str(config)]) == 1
    assert f"error settings.invalid: keys_dir: folder {tmp_path / 'nowhere'} does not exist" in (
        capsys.readouterr().err
    )


def test_run_with_unreachable_broker_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A worker whose broker cannot be reached exits with broker.unavailable, no traceback."""
    keys = tmp_path / "keys"
    for party in ("hub", "police"):
        assert main(["keys", "init", "--party", party, "--out", str(keys)]) == 0
    generate_ledger_key(tmp_path / "ledger.key")
    config = tmp_path / "hub.toml"
    config.write_text(
        'keys_dir = "keys"\nprivate_keys = "keys/hub.private.jwks.json"\n'
        'ledger_key_file = "ledger.key"\nledger_url = "sqlite:///' + str(tmp_path / "l.db") + '"\n'
        'broker_url = "amqp://nobody:none@127.0.0.1:9/none"\nlog_format = "json"\n'
    )
    capsys.readouterr()
    assert main(["run", "--config", str(config)]) == 1
    err = capsys.readouterr().err
    assert "error broker.unavailable" in err
    assert "Traceback" not in err


def test_example_settings_name_every_setting() -> None:
    """The example worker settings file names exactly the settings a worker has.

    Those a hub may go without (the evaluation feed, the witness policy) are shown commented out.
    """
    import tomllib  # noqa: PLC0415

    from hub.settings import HubSettings  # noqa: PLC0415

    example = (Path(__file__).parents[2] / "deploy" / "hub.example.toml").read_text()
    optional = set(re.findall(r"^# ([a-z_]+) = ", example, re.MULTILINE))
    assert optional == {
        "evaluation_area",
        "evaluation_model",
        "linkage_key_file",
        "evaluation_reports_dir",
        "witness_policy_file",
    }
    assert set(tomllib.loads(example)) | optional == set(HubSettings.model_fields)


@pytest.mark.parametrize("kind", ["ledger-key", "linkage-key"])
def test_a_pseudonym_key_is_created_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    """`hub keys ledger-key` and `linkage-key` write a 0600 key and refuse to replace it."""
    key = tmp_path / "the.key"
    assert main(["keys", kind, "--out", str(key)]) == 0
    assert key.stat().st_mode & 0o777 == 0o600
    before = key.read_bytes()
    assert main(["keys", kind, "--out", str(key)]) == 1
    assert "error keys.exist" in capsys.readouterr().err
    assert key.read_bytes() == before
