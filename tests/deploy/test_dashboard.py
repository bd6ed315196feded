"""The Grafana dashboard and its provisioning: valid JSON, datasource templated,
every query valid PromQL over metrics the worker exports, and the SRE panels there."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from tests.deploy.conftest import DEPLOY, METRICS, run
from tests.deploy.promql import metric_names

GRAFANA = DEPLOY / "grafana"


@pytest.fixture(scope="module")
def dashboard() -> dict:
    return json.loads((GRAFANA / "dashboard.json").read_text(encoding="utf-8"))


def _panels(dashboard: dict) -> list[dict]:
    panels = []
    for panel in dashboard["panels"]:
        panels.append(panel)
        panels.extend(panel.get("panels", []))  # collapsed rows nest their panels
    return [p for p in panels if p["type"] != "row"]


def _exprs(dashboard: dict) -> dict[str, list[str]]:
    return {p["title"]: [t["expr"] for t in p["targets"]] for p in _panels(dashboard)}


def test_panels_query_only_exported_metrics(dashboard: dict) -> None:
    for title, exprs in _exprs(dashboard).items():
        assert exprs, f"{title} has no query"
        for expr in exprs:
            unknown = metric_names(expr) - METRICS
            assert not unknown, f"{title}: {expr} reads {sorted(unknown)}"


def test_template_variables_read_exported_metrics(dashboard: dict) -> None:
    for var in dashboard["templating"]["list"]:
        if var["type"] == "query":
            query = var["query"]["query"] if isinstance(var["query"], dict) else var["query"]
            match = re.fullmatch(r"label_values\((\w+),\s*(\w+)\)", query)
            assert match and match.group(1) in METRICS, query


def test_datasource_is_templated(dashboard: dict) -> None:
    (var,) = [v for v in dashboard["templating"]["list"] if v["type"] == "datasource"]
    assert var["query"] == "prometheus"
    ref = {"type": "prometheus", "uid": f"${{{var['name']}}}"}
    for panel in _panels(dashboard):
        assert panel["datasource"] == ref, panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == ref, panel["title"]


def test_sre_panels_are_present(dashboard: dict) -> None:
    reads = {title: set().union(*map(metric_names, exprs))
             for title, exprs in _exprs(dashboard).items()}

    def panel_reading(metric: str) -> list[str]:
        return [title for title, names in reads.items() if metric in names]

    for metric in ("ordercast_deliveries_total", "ordercast_delivery_latency_seconds_bucket",
                   "ordercast_retries_total", "ordercast_dead_letters_total",
                   "ordercast_consumer_lag", "ordercast_risk_alerts_total"):
        assert panel_reading(metric), metric
    latency = " ".join(next(e for t, e in _exprs(dashboard).items() if "latency" in t.lower()))
    for quantile in ("0.5", "0.95", "0.99"):
        assert f"histogram_quantile({quantile}," in latency
    lag = " ".join(_exprs(dashboard)[panel_reading("ordercast_consumer_lag")[0]])
    assert "partition" in lag


def test_panel_ids_are_unique(dashboard: dict) -> None:
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    assert dashboard["uid"]


def test_provisioning_points_at_the_dashboard_and_prometheus() -> None:
    ds = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "prometheus.yaml").read_text())
    (source,) = ds["datasources"]
    assert source["type"] == "prometheus"
    assert source["url"] == "http://prometheus:9090"
    dash = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "ordercast.yaml").read_text())
    (provider,) = dash["providers"]
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    mounts = compose["services"]["grafana"]["volumes"]
    target = next(v.split(":")[1] for v in mounts if v.startswith("./grafana/dashboard.json"))
    assert target.startswith(provider["options"]["path"] + "/")


def test_success_ratio_panel_evaluates_as_intended(dashboard: dict, promtool: str,
                                                   tmp_path) -> None:
    """Evaluated by Prometheus's own engine (promtool): a channel that only fails shows 0,
    one that never fails shows 1, not a missing line."""
    (expr,) = _exprs(dashboard)["Delivery success ratio"]
    expr = expr.replace("$__rate_interval", "5m").replace("$channel", ".*")
    series = {
        ("email", "delivered"): "0+3x20", ("email", "dead_lettered"): "0+1x20",
        ("sms", "dead_lettered"): "0+1x20", ("inapp", "delivered"): "0+5x20",
    }
    suite = {
        "rule_files": [],
        "evaluation_interval": "1m",
        "tests": [{
            "interval": "1m",
            "input_series": [
                {"series": f'ordercast_deliveries_total{{channel="{ch}",status="{st}"}}',
                 "values": values}
                for (ch, st), values in series.items()
            ],
            "promql_expr_test": [{
                "expr": expr,
                "eval_time": "15m",
                "exp_samples": [
                    {"labels": '{channel="email"}', "value": 0.75},
                    {"labels": '{channel="sms"}', "value": 0},
                    {"labels": '{channel="inapp"}', "value": 1},
                ],
            }],
        }],
    }
    path = tmp_path / "panel_test.yml"
    path.write_text(yaml.safe_dump(suite), encoding="utf-8")
    result = run(promtool, "test", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
