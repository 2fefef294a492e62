"""The monitoring files: Prometheus alerts and their unit tests, scrape config, dashboard.

``promtool`` (the real one, from Debian's ``prometheus`` package) checks the rules,
runs ``deploy/prometheus/alerts_test.yml`` and checks ``prometheus.yml``. Its path
comes from ``HUB_TEST_PROMTOOL``; under ``HUB_REQUIRE_SERVICES=1`` from
``deploy/dev/promtool.sh`` (which installs it); otherwise those cases skip. The rest
needs no promtool: every metric a rule or a panel names must exist in
:meth:`HubMetrics.exposition`, and the dashboard must be well formed.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families
from services import assert_ok, promtool_path, run_promtool

from hub.metrics import HubMetrics

if TYPE_CHECKING:
    from collections.abc import Iterator

ROOT: Final = Path(__file__).resolve().parents[2]
PROMETHEUS: Final = ROOT / "deploy" / "prometheus"
ALERTS: Final = PROMETHEUS / "alerts.yml"
ALERT_TESTS: Final = PROMETHEUS / "alerts_test.yml"
CONFIG: Final = PROMETHEUS / "prometheus.yml"
DASHBOARD: Final = ROOT / "deploy" / "grafana" / "dashboard.json"
DATASOURCE: Final = {"type": "prometheus", "uid": "${datasource}"}
#: Grafana's own pseudo data source for the built-in annotations: not Prometheus.
GRAFANA_BUILTIN: Final = "-- Grafana --"
SEVERITIES: Final = frozenset({"critical", "warning", "info"})
#: Labels an annotation may quote: ids and codes only, never content (ARCHITECTURE P1).
QUOTABLE_LABELS: Final = frozenset(
    {
        "job",
        "instance",
        "recipient",
        "reason",
        "code",
        "party",
        "use",
        "agreement",
        "outcome",
        "via",
        "witness",
    }
)
#: Suffixes the exposition format adds to a family's name, by type.
SUFFIXES: Final = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "summary": ("", "_sum", "_count", "_created"),
    "gauge": ("",),
}
#: Series Prometheus itself writes for every target.
SYNTHETIC: Final = frozenset({"up", "scrape_duration_seconds", "scrape_samples_scraped"})
PROMQL_WORDS: Final = frozenset(
    {"and", "or", "unless", "by", "without", "on", "ignoring", "bool", "offset", "inf", "nan"}
)
#: Grafana's variables, replaced by concrete values before promtool parses a query.
GRAFANA_VARIABLES: Final = {"$__rate_interval": "1m", "$__interval": "1m", "$job": "hub-console"}


# --- promtool --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def promtool() -> str:
    """The promtool to run, or skip (fail under HUB_REQUIRE_SERVICES=1)."""
    return promtool_path()


# --- reading the files -----------------------------------------------------------------


def load_yaml(path: Path) -> Any:
    """The YAML document in ``path``."""
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def alert_rules() -> list[dict[str, Any]]:
    """Every alerting rule in alerts.yml."""
    groups = load_yaml(ALERTS)["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def rule_files() -> list[Path]:
    """The rule files prometheus.yml loads (alerts and any recording rules)."""
    return [PROMETHEUS / name for name in load_yaml(CONFIG)["rule_files"]]


def rule_expressions() -> Iterator[tuple[str, str]]:
    """(rule name, expression) for every rule in every rule file."""
    for path in rule_files():
        for group in load_yaml(path)["groups"]:
            for rule in group["rules"]:
                yield rule.get("alert") or rule["record"], rule["expr"]


def dashboard() -> dict[str, Any]:
    """The Grafana dashboard."""
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return loaded


def dashboard_queries() -> Iterator[tuple[str, str]]:
    """(where, PromQL) for every panel target and query variable of the dashboard."""
    board = dashboard()
    for panel in board["panels"]:
        for target in panel.get("targets", []):
            yield f"panel {panel['id']} {target['refId']}", target["expr"]
    for variable in board["templating"]["list"]:
        if variable["type"] == "query":
            query = variable["query"]
            text = query["query"] if isinstance(query, dict) else query
            yield f"variable {variable['name']}", label_values_selector(text)


def label_values_selector(query: str) -> str:
    """The series selector inside Grafana's ``label_values(selector, label)``."""
    found = re.fullmatch(r"label_values\((.+),\s*\w+\)", query.strip())
    assert found, f"unexpected variable query {query!r}"
    return found.group(1)


# --- metric names in PromQL ------------------------------------------------------------

_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')
_BRACES = re.compile(r"\{[^}]*\}|\[[^\]]*\]")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_IDENTIFIER = re.compile(r"(?<![\w.])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?")


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (functions and keywords left out)."""
    text = _GROUPING.sub(" ", _BRACES.sub(" ", _STRINGS.sub(" ", expr)))
    names = set()
    for found in _IDENTIFIER.finditer(text):
        name, call = found.group(1), found.group(2)
        if call is None and name.lower() not in PROMQL_WORDS:
            names.add(name)
    return names


def exposed_names() -> set[str]:
    """Every series name the hub's /metrics can carry, plus Prometheus's own."""
    text = HubMetrics().exposition().decode()
    names = set(SYNTHETIC)
    for family in text_string_to_metric_families(text):
        names.update(family.name + suffix for suffix in SUFFIXES.get(family.type, ("",)))
    return names


def unknown_metrics(queries: Iterator[tuple[str, str]], known: set[str]) -> list[str]:
    """``where: name`` for each metric a query names that the hub does not expose."""
    return [
        f"{where}: {name}" for where, expr in queries for name in sorted(metric_names(expr) - known)
    ]


def test_metric_names_reads_selectors_not_functions() -> None:
    """The PromQL reader finds metrics and skips functions, labels, keywords and ranges."""
    expr = (
        'histogram_quantile(0.99, sum by (job, le) (rate(hub_pipeline_seconds_bucket{le="+Inf",'
        'job="$job"}[$__rate_interval]))) > 2.5 and on (job) up offset 5m or vector(0)'
    )
    assert metric_names(expr) == {"hub_pipeline_seconds_bucket", "up"}


def test_every_rule_metric_is_exposed() -> None:
    """Every metric an alerting or recording rule names exists in the hub's exposition."""
    assert unknown_metrics(rule_expressions(), exposed_names()) == []


def test_every_dashboard_metric_is_exposed() -> None:
    """Every metric a dashboard panel or variable names exists in the hub's exposition."""
    assert unknown_metrics(dashboard_queries(), exposed_names()) == []


def test_a_misspelt_metric_is_reported() -> None:
    """A rule naming a metric the hub does not expose is caught (the check can fail)."""
    broken = iter([("HubInboxNoConsumer", "max by (recipient) (hub_inbox_consumer) == 0")])
    assert unknown_metrics(broken, exposed_names()) == ["HubInboxNoConsumer: hub_inbox_consumer"]


# --- alert rules -----------------------------------------------------------------------


def test_alerts_carry_severity_and_runbook() -> None:
    """Every alert has a severity, a summary, a description and a runbook hint."""
    for rule in alert_rules():
        assert rule["labels"]["severity"] in SEVERITIES, rule["alert"]
        for key in ("summary", "description", "runbook"):
            assert rule["annotations"].get(key, "").strip(), f"{rule['alert']} lacks {key}"


def test_annotations_quote_only_ids_and_codes() -> None:
    """Annotations quote only id and code labels, so an alert never carries content."""
    for rule in alert_rules():
        text = " ".join(rule["annotations"].values())
        quoted = set(re.findall(r"\$labels\.(\w+)", text))
        assert quoted <= QUOTABLE_LABELS, f"{rule['alert']} quotes {quoted - QUOTABLE_LABELS}"


def test_every_alert_is_unit_tested_both_ways() -> None:
    """alerts_test.yml has, for every alert, a case where it fires and one where it does not."""
    cases = [case for test in load_yaml(ALERT_TESTS)["tests"] for case in test["alert_rule_test"]]
    for rule in alert_rules():
        mine = [case for case in cases if case["alertname"] == rule["alert"]]
        assert any(case.get("exp_alerts") for case in mine), f"{rule['alert']} never fires"
        assert any(not case.get("exp_alerts") for case in mine), f"{rule['alert']} never silent"


def scrape_job(name: str) -> dict[str, Any]:
    """The scrape job of prometheus.yml called ``name``."""
    (job,) = [j for j in load_yaml(CONFIG)["scrape_configs"] if j["job_name"] == name]
    return dict(job)


def test_target_down_alerts_name_the_scrape_jobs() -> None:
    """HubTargetDown and RabbitMQTargetDown watch jobs prometheus.yml scrapes."""
    jobs = {job["job_name"] for job in load_yaml(CONFIG)["scrape_configs"]}
    downs = {rule["alert"]: rule for rule in alert_rules() if rule["alert"].endswith("TargetDown")}
    assert set(downs) == {"HubTargetDown", "RabbitMQTargetDown"}
    pattern = re.compile(r'up\{job="([^"]+)"\}')
    watched = {name: pattern.findall(rule["expr"]) for name, rule in downs.items()}
    assert watched == {"HubTargetDown": ["hub-console"], "RabbitMQTargetDown": ["rabbitmq"]}
    assert {"hub-console", "rabbitmq"} <= jobs


def test_promtool_accepts_the_rules(promtool: str) -> None:
    """Every rule file prometheus.yml loads passes ``promtool check rules``."""
    assert_ok(run_promtool(promtool, "check", "rules", *rule_files(), cwd=PROMETHEUS))


def test_alert_unit_tests_pass(promtool: str) -> None:
    """Under ``promtool test rules`` each alert fires when it should, and only then."""
    assert_ok(run_promtool(promtool, "test", "rules", ALERT_TESTS, cwd=PROMETHEUS))


@pytest.mark.parametrize(
    ("alert", "old", "new"),
    [
        ("HubInboxBacklog", "> 900", "> 9000"),
        ("HubKeyExpiryCritical", "< 7 * 86400", "<= 7 * 86400"),
        ("HubCheckpointStale", "hub_ledger_checkpoint_age_seconds", "hub_ledger_checkpoint_age"),
    ],
)
def test_unit_tests_catch_a_broken_rule(
    promtool: str, tmp_path: Path, alert: str, old: str, new: str
) -> None:
    """A wrong threshold or a misspelt metric in alerts.yml makes promtool test rules fail."""
    text = ALERTS.read_text(encoding="utf-8")
    start = text.index(f"- alert: {alert}\n")
    end = text.find("- alert:", start + 1)
    end = len(text) if end < 0 else end
    rule = text[start:end]
    assert old in rule, f"{alert} no longer holds {old!r}"
    (tmp_path / ALERTS.name).write_text(text[:start] + rule.replace(old, new) + text[end:])
    shutil.copy(ALERT_TESTS, tmp_path / ALERT_TESTS.name)
    done = run_promtool(promtool, "test", "rules", ALERT_TESTS.name, cwd=tmp_path)
    assert done.returncode != 0
    assert alert in done.stdout + done.stderr


# --- scrape configuration --------------------------------------------------------------


def test_console_is_scraped_over_https_with_a_token_file() -> None:
    """The console job uses HTTPS, the private CA, a token file and no redirects."""
    job = scrape_job("hub-console")
    assert job["scheme"] == "https"
    assert job["metrics_path"] == "/metrics"
    assert job["authorization"]["type"] == "Bearer"
    assert "credentials" not in job["authorization"], "the token belongs in a file"
    assert job["authorization"]["credentials_file"]
    assert job["tls_config"]["ca_file"]
    assert job["tls_config"].get("insecure_skip_verify") is not True
    assert job["follow_redirects"] is False


def test_rabbitmq_is_scraped_over_https_on_the_plugins_port() -> None:
    """The rabbitmq jobs read the plugin's TLS listener, verified by the private CA."""
    conf = dict(
        line.split(" = ", 1)
        for line in (ROOT / "deploy" / "rabbitmq" / "rabbitmq.conf").read_text().splitlines()
        if " = " in line and not line.startswith("#")
    )
    plugins = (ROOT / "deploy" / "rabbitmq" / "enabled_plugins").read_text()
    assert "rabbitmq_prometheus" in plugins
    assert "prometheus.tcp.port" not in conf, "metrics over HTTPS only"
    for name, path in (("rabbitmq", "/metrics"), ("rabbitmq-queues", "/metrics/detailed")):
        job = scrape_job(name)
        assert job["scheme"] == "https"
        assert job["metrics_path"] == path
        assert job["tls_config"]["ca_file"] == scrape_job("hub-console")["tls_config"]["ca_file"]
        assert job["tls_config"].get("insecure_skip_verify") is not True
        targets = [t for group in job["static_configs"] for t in group["targets"]]
        assert all(t.endswith(f":{conf['prometheus.ssl.port']}") for t in targets), targets
    assert scrape_job("rabbitmq-queues")["params"]["family"] == [
        "queue_coarse_metrics",
        "queue_consumer_count",
    ]


def offline_config(tmp_path: Path) -> Path:
    """prometheus.yml with its token, CA and rule files pointed at files that exist."""
    config = load_yaml(CONFIG)
    for job in config["scrape_configs"]:
        token, ca = tmp_path / f"{job['job_name']}.token", tmp_path / "ca.pem"
        token.write_text("hubt_test\n")
        ca.write_text("")
        if "authorization" in job:
            job["authorization"]["credentials_file"] = str(token)
        job["tls_config"]["ca_file"] = str(ca)
    config["rule_files"] = [str(path) for path in rule_files()]
    copy = tmp_path / "prometheus.yml"
    copy.write_text(yaml.safe_dump(config, sort_keys=False))
    return copy


def test_promtool_accepts_the_config(promtool: str, tmp_path: Path) -> None:
    """The scrape config and the rule files it loads pass ``promtool check config``."""
    assert_ok(run_promtool(promtool, "check", "config", offline_config(tmp_path), cwd=tmp_path))


# --- dashboard -------------------------------------------------------------------------


def test_dashboard_panels_are_well_formed() -> None:
    """Panel ids are unique; every panel has a title, a unit and at least one query."""
    panels = dashboard()["panels"]
    ids = [panel["id"] for panel in panels]
    assert len(ids) == len(set(ids))
    for panel in panels:
        assert panel["title"].strip(), f"panel {panel['id']} has no title"
        assert panel["targets"], f"panel {panel['id']} has no query"
        assert panel["fieldConfig"]["defaults"].get("unit"), f"panel {panel['id']} has no unit"
        assert all(target["expr"].strip() for target in panel["targets"])


def test_dashboard_panels_do_not_overlap() -> None:
    """No two panels share a grid cell, and all fit the 24-column grid."""
    taken: set[tuple[int, int]] = set()
    for panel in dashboard()["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, f"panel {panel['id']} is too wide"
        cells = {
            (x, y)
            for x in range(grid["x"], grid["x"] + grid["w"])
            for y in range(grid["y"], grid["y"] + grid["h"])
        }
        assert not cells & taken, f"panel {panel['id']} overlaps another"
        taken |= cells


def datasources(node: Any) -> Iterator[Any]:
    """Every ``datasource`` value anywhere in ``node``."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "datasource":
                yield value
            yield from datasources(value)
    elif isinstance(node, list):
        for item in node:
            yield from datasources(item)


def test_dashboard_uses_the_datasource_variable_everywhere() -> None:
    """Every panel and query uses ``${datasource}``; no data source uid is hard-coded."""
    board = dashboard()
    (variable,) = [v for v in board["templating"]["list"] if v["type"] == "datasource"]
    assert (variable["name"], variable["query"]) == ("datasource", "prometheus")
    for panel in board["panels"]:
        assert panel["datasource"] == DATASOURCE, f"panel {panel['id']}"
        assert all(target["datasource"] == DATASOURCE for target in panel["targets"])
    for used in datasources({k: v for k, v in board.items() if k != "annotations"}):
        assert used == DATASOURCE
    for used in datasources(board["annotations"]):
        assert used["uid"] == GRAFANA_BUILTIN


def test_dashboard_targets_a_current_grafana() -> None:
    """The dashboard declares a schema of a current Grafana and no fixed database id."""
    board = dashboard()
    assert board["schemaVersion"] >= 39
    assert board["id"] is None
    assert board["uid"]


def test_promtool_parses_every_dashboard_query(promtool: str, tmp_path: Path) -> None:
    """Every dashboard query (variables filled in) is PromQL that promtool accepts."""
    rules = []
    for number, (_where, query) in enumerate(dashboard_queries()):
        expr = query
        for variable, value in GRAFANA_VARIABLES.items():
            expr = expr.replace(variable, value)
        rules.append({"record": f"dashboard:query_{number}", "expr": expr})
    path = tmp_path / "dashboard_rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    assert_ok(run_promtool(promtool, "check", "rules", path, cwd=tmp_path))
