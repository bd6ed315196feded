"""The Prometheus config and alert rules: promtool checks them, runs the rule unit
tests, and every rule reads only metrics the worker exports."""

from __future__ import annotations

import pytest
import yaml

from tests.deploy.conftest import DEPLOY, METRICS, run
from tests.deploy.promql import metric_names

PROM = DEPLOY / "prometheus"
RULES = PROM / "rules.yml"
RULE_TESTS = PROM / "rules_test.yml"


def _rules() -> list[dict]:
    groups = yaml.safe_load(RULES.read_text(encoding="utf-8"))["groups"]
    return [rule for group in groups for rule in group["rules"]]


def test_promtool_check_rules(promtool: str) -> None:
    result = run(promtool, "check", "rules", str(RULES))
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_rule_unit_tests_pass(promtool: str) -> None:
    result = run(promtool, "test", "rules", str(RULE_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


@pytest.mark.parametrize("config", ["prometheus.yml", "prometheus.compose.yml"])
def test_promtool_check_config(promtool: str, config: str) -> None:
    result = run(promtool, "check", "config", str(PROM / config))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("config, target", [
    ("prometheus.yml", "127.0.0.1:6066"),
    ("prometheus.compose.yml", "worker:6066"),
])
def test_scrape_job_targets_the_worker(config: str, target: str) -> None:
    cfg = yaml.safe_load((PROM / config).read_text(encoding="utf-8"))
    (job,) = [j for j in cfg["scrape_configs"] if j["job_name"] == "ordercast"]
    assert job["scrape_interval"] == "5s"
    assert job.get("metrics_path", "/metrics") == "/metrics"
    assert [t for sc in job["static_configs"] for t in sc["targets"]] == [target]
    assert cfg["rule_files"] == ["rules.yml"]


def test_every_rule_has_severity_summary_description_and_for() -> None:
    for rule in _rules():
        assert rule["labels"]["severity"] in {"critical", "warning"}, rule["alert"]
        assert rule["annotations"]["summary"].strip(), rule["alert"]
        assert rule["annotations"]["description"].strip(), rule["alert"]
        assert "for" in rule, rule["alert"]


def test_rules_read_only_exported_metrics() -> None:
    for rule in _rules():
        assert metric_names(rule["expr"]) <= METRICS | {"up"}, rule["alert"]


def test_every_rule_is_unit_tested_firing_and_quiet() -> None:
    """Each alert has a test case expecting it to fire and one expecting silence."""
    suite = yaml.safe_load(RULE_TESTS.read_text(encoding="utf-8"))
    fires: set[str] = set()
    quiet: set[str] = set()
    for case in suite["tests"]:
        for check in case.get("alert_rule_test", []):
            (fires if check.get("exp_alerts") else quiet).add(check["alertname"])
    names = {rule["alert"] for rule in _rules()}
    assert names <= fires, f"never shown firing: {sorted(names - fires)}"
    assert names <= quiet, f"never shown quiet: {sorted(names - quiet)}"


def test_required_alerts_exist() -> None:
    exprs = {rule["alert"]: rule["expr"] for rule in _rules()}
    reads = {name: metric_names(expr) for name, expr in exprs.items()}
    wanted = {
        "ordercast_deliveries_total", "ordercast_delivery_latency_seconds_bucket",
        "ordercast_dead_letters_total", "ordercast_consumer_lag", "ordercast_risk_alerts_total",
        "up",
    }
    assert wanted <= set().union(*reads.values())
    assert 'up{job="ordercast"} == 0' in exprs["OrdercastWorkerDown"]
