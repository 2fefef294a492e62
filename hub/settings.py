"""Settings of a hub worker: a TOML file, overridden by ``HUB_*`` environment variables.

A bad setting stops the worker with ``error settings.invalid: <name>: <problem>``,
naming the setting, never with a traceback and never echoing a value (a URL may
hold a password).
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from hub.errors import HubError
from schemas.evaluation import AreaId, InterventionModel  # noqa: TC001 - resolved at runtime
from schemas.parties import PartyId  # noqa: TC001 - pydantic resolves annotations at runtime

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"


class SettingsError(HubError):
    """A setting is missing or invalid; ``setting`` names it (``settings.invalid``)."""

    def __init__(self, setting: str, problem: str) -> None:
        """Name the setting and the problem."""
        super().__init__("settings.invalid", f"{setting}: {problem}")
        self.setting = setting
        self.problem = problem


#: ``host:port`` of a broker node.
HostPort = Annotated[str, Field(pattern=r"^[A-Za-z0-9.-]{1,253}:[0-9]{1,5}$")]


class HubSettings(BaseSettings):
    """Everything one hub worker needs to run."""

    model_config = SettingsConfigDict(env_prefix="HUB_", extra="forbid", frozen=True)

    party: PartyId = "hub"
    keys_dir: Path
    private_keys: Path
    ledger_url: SecretStr = SecretStr("sqlite:///hub-ledger.db")
    ledger_key_file: Path
    broker_url: SecretStr = SecretStr("memory://")
    #: RabbitMQ's management API (``http://user:password@127.0.0.1:15672``), read by
    #: the console's queue view; None without one (``memory://`` needs none).
    broker_management_url: SecretStr | None = None
    #: Links the console's overview shows to operators: the Grafana dashboard and
    #: RabbitMQ's management UI as the operators' browsers reach them (no credentials).
    grafana_url: str | None = None
    broker_ui_url: str | None = None
    #: The cluster's other nodes (``host:port``), tried in turn when the node of
    #: ``broker_url`` is unreachable or stops; same user, vhost and TLS options.
    broker_failover: tuple[
        Annotated[str, Field(pattern=r"^[A-Za-z0-9.-]{1,253}:[0-9]{1,5}$")], ...
    ] = ()
    agreements_dir: Path = DEPLOY / "agreements"
    parties_file: Path = DEPLOY / "parties.toml"
    rules_file: Path = DEPLOY / "rules.toml"
    #: Put before every exchange and queue name: ``""`` in a deployment (a vhost of
    #: its own), a unique ``name.`` where several hubs share one vhost (tests).
    topology_prefix: Annotated[str, Field(pattern=r"^([a-z0-9-]{1,40}\.)?$")] = ""
    prefetch: Annotated[int, Field(ge=1, le=1000)] = 32
    delivery_limit: Annotated[int, Field(ge=1, le=100)] = 5
    max_envelope_bytes: Annotated[int, Field(ge=1024, le=16 * 1024 * 1024)] = 256 * 1024
    #: The first part of the ledger's checkpoint origin (C2SP tlog-checkpoint): the
    #: notes witnesses cosign name ``<ledger_origin>/<ledger id>``. A schema-less URL
    #: naming the deployment, such as ``hub.exampleshire.example/ledger``.
    ledger_origin: Annotated[
        str, Field(pattern=r"^[A-Za-z0-9.-]{1,100}(/[A-Za-z0-9._-]{1,40}){0,4}$")
    ] = "case-event-hub.invalid/ledger"
    checkpoint_every_entries: Annotated[int, Field(ge=1)] = 1000
    checkpoint_every_seconds: Annotated[float, Field(gt=0)] = 60.0
    log_format: Literal["auto", "json", "console"] = "auto"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    #: The evaluation feed (ADR 0022): the programme area this hub serves, the
    #: intervention model it runs, and the key every area hub shares for evaluation
    #: pseudonyms (``hub keys linkage-key``). All three, or none: a hub without them
    #: feeds no evaluator, and evaluation clauses entitle nobody.
    evaluation_area: AreaId | None = None
    evaluation_model: InterventionModel | None = None
    linkage_key_file: Path | None = None
    #: The evaluation's published reports, one folder each (``hub-evaluation report``
    #: output): the console shows those that match a release its ledger records.
    evaluation_reports_dir: Path | None = None
    #: The witness policy (ADR 0026): a C2SP tlog-policy file naming the partner
    #: witnesses, their keys and URLs, and the quorum. With it the console asks the
    #: witnesses to cosign each new checkpoint every ``witness_every_seconds`` and
    #: shows and verifies what they cosigned. None: no witnesses.
    witness_policy_file: Path | None = None
    witness_every_seconds: Annotated[float, Field(gt=0)] = 30.0

    @field_validator("keys_dir", "agreements_dir")
    @classmethod
    def _folder_exists(cls, value: Path) -> Path:
        if not value.is_dir():
            raise ValueError(f"folder {value} does not exist")
        return value

    @field_validator("private_keys", "ledger_key_file", "parties_file", "rules_file")
    @classmethod
    def _file_exists(cls, value: Path) -> Path:
        if not value.is_file():
            raise ValueError(f"file {value} does not exist")
        return value

    @field_validator("evaluation_reports_dir")
    @classmethod
    def _optional_folder_exists(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_dir():
            raise ValueError(f"folder {value} does not exist")
        return value

    @field_validator("linkage_key_file", "witness_policy_file")
    @classmethod
    def _optional_file_exists(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"file {value} does not exist")
        return value

    @model_validator(mode="after")
    def _evaluation_whole(self) -> HubSettings:
        given = {
            "evaluation_area": self.evaluation_area,
            "evaluation_model": self.evaluation_model,
            "linkage_key_file": self.linkage_key_file,
        }
        missing = [name for name, value in given.items() if value is None]
        if missing and len(missing) < len(given):
            raise ValueError(f"the evaluation feed needs {', '.join(missing)} as well")
        return self

    @property
    def feeds_evaluation(self) -> bool:
        """Whether this hub feeds the programme's evaluator."""
        return self.linkage_key_file is not None

    @field_validator("ledger_url")
    @classmethod
    def _ledger_scheme(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().startswith(("sqlite:///", "postgresql://")):
            raise ValueError("must start with sqlite:/// or postgresql://")
        return value

    @field_validator("broker_url")
    @classmethod
    def _broker_scheme(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().startswith(("memory://", "amqp://", "amqps://")):
            raise ValueError("must start with memory://, amqp:// or amqps://")
        return value

    @field_validator("broker_management_url")
    @classmethod
    def _management_scheme(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value

    @field_validator("grafana_url", "broker_ui_url")
    @classmethod
    def _link(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise ValueError("must be an http:// or https:// URL")
        if parts.username is not None or parts.password is not None:
            raise ValueError("must not hold a user name or password (it is shown in pages)")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Environment variables beat the file (passed in as init values)."""
        del settings_cls, dotenv_settings, file_secret_settings
        return (env_settings, init_settings)


class OwnSettings(HubSettings):
    """Settings from the values given alone: no ``HUB_*`` variable changes them.

    For a hub of the demo or a test, which must never pick up a deployment's
    ledger, keys or broker from the environment it happens to run in.
    """

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """The values given, nothing else."""
        del settings_cls, env_settings, dotenv_settings, file_secret_settings
        return (init_settings,)


def _read(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except OSError as error:
        raise SettingsError("--config", f"{path}: {error.strerror or 'cannot read'}") from None
    except UnicodeDecodeError as error:
        raise SettingsError("--config", f"{path}: not UTF-8 (byte {error.start})") from None
    except tomllib.TOMLDecodeError as error:
        raise SettingsError("--config", f"{path}: not TOML ({error})") from None
    base = path.resolve().parent
    for key, value in data.items():  # relative paths are relative to the file
        if key.endswith(("_dir", "_file", "_keys")) and isinstance(value, str):
            data[key] = str((base / value).resolve())
    return data


def load_settings(path: Path | None, *, environment: bool = True) -> HubSettings:
    """Read settings from ``path`` (if given) and, unless told not to, the environment.

    Raises:
        SettingsError: naming the first bad or missing setting.
    """
    data = _read(path) if path is not None else {}
    kind = HubSettings if environment else OwnSettings
    try:
        return kind(**data)
    except ValidationError as error:
        first = error.errors()[0]
        name = ".".join(str(p) for p in first["loc"]) or "(settings)"
        problem = first["msg"].removeprefix("Value error, ")
        if first["type"] == "missing":
            where = f"in {path}" if path is not None else "in a --config file"
            problem = f"required: set it {where}" + (
                f" or as HUB_{name.upper()}" if environment else ""
            )
        raise SettingsError(name, problem) from None
