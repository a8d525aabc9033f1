"""Prometheus and Grafana: configs and rules pass promtool, each alert fires on what it names,
and every metric the dashboard and the alerts read is one a running boxoffice exports."""

from __future__ import annotations

import json
import re
import subprocess
from typing import Any

import pytest
import yaml

from boxoffice.topology import SERVICE_NAMES, SERVICE_PORTS
from tests.conftest import running_system, scrape
from tests.deploy.tools import DEPLOY, promtool

PROMETHEUS = DEPLOY / "prometheus"
DASHBOARD = DEPLOY / "grafana/dashboards/boxoffice.json"
DATASOURCES = DEPLOY / "grafana/provisioning/datasources/prometheus.yml"

# Series Prometheus itself makes (not exported by the services).
PROMETHEUS_SERIES = {"up"}
PROMQL_WORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless",
    "bool", "offset", "inf", "nan",
}  # fmt: skip


def run_promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool(), *args], capture_output=True, text=True, timeout=60, check=False
    )


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads (not functions, labels or keywords)."""
    expr = re.sub(r'"(?:\\.|[^"\\])*"', '""', expr)  # string literals
    expr = re.sub(r"\{[^}]*\}", "", expr)  # label matchers
    expr = re.sub(r"\[[^\]]*\]", "", expr)  # range selectors
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", expr)
    names = set()
    for match in re.finditer(r"(?<![\w$.])([a-zA-Z_:][\w:]*)\b(\s*\()?", expr):
        word, call = match.group(1), match.group(2)
        if not call and word.lower() not in PROMQL_WORDS:
            names.add(word)
    return names


def dashboard_exprs() -> list[str]:
    panels = json.loads(DASHBOARD.read_text())["panels"]
    return [t["expr"] for p in panels for t in p.get("targets", [])]


def alert_exprs() -> list[str]:
    groups = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())["groups"]
    return [rule["expr"] for group in groups for rule in group["rules"]]


@pytest.mark.parametrize("config", ["prometheus.yml", "prometheus-k8s.yml"])
def test_prometheus_configs_pass_promtool(config):
    result = run_promtool("check", "config", str(PROMETHEUS / config))
    assert result.returncode == 0, result.stdout + result.stderr


def test_alert_rules_pass_promtool():
    result = run_promtool("check", "rules", str(PROMETHEUS / "alerts.yml"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_each_alert_fires_on_its_situation_and_not_beside_it():
    result = run_promtool("test", "rules", str(PROMETHEUS / "alerts_test.yml"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_alerts_named_in_the_design_exist():
    groups = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())["groups"]
    names = {rule["alert"] for group in groups for rule in group["rules"]}
    assert names >= {
        "ServiceDown",
        "HighErrorRate",
        "CircuitBreakerOpen",
        "OutboxLagGrowing",
        "HighLatencyP95",
    }


def test_compose_prometheus_scrapes_every_service():
    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    targets = {
        job["job_name"]: job["static_configs"][0]["targets"] for job in config["scrape_configs"]
    }
    for name in SERVICE_NAMES:
        assert targets[name] == [f"{name}:{SERVICE_PORTS[name]}"]


def test_every_dashboard_query_is_valid_promql(tmp_path):
    # promtool parses expressions in rule files: wrap each query in a recording rule.
    rules = [
        {"record": f"dashboard:query_{i}", "expr": e.replace("$__rate_interval", "5m")}
        for i, e in enumerate(dashboard_exprs())
    ]
    path = tmp_path / "dashboard_rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    result = run_promtool("check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_dashboard_shows_the_design_metrics_from_the_provisioned_datasource():
    dashboard = json.loads(DASHBOARD.read_text())
    (datasource,) = yaml.safe_load(DATASOURCES.read_text())["datasources"]
    used = set().union(*map(metric_names, dashboard_exprs()))
    assert used >= {
        "http_requests_total",
        "http_request_duration_seconds_bucket",
        "bookings_total",
        "payments_total",
        "cache_hits_total",
        "cache_misses_total",
        "circuit_breaker_state",
        "events_published_total",
        "events_dead_lettered_total",
    }
    for panel in dashboard["panels"]:
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == datasource["uid"], panel["title"]


def test_metric_name_extraction_finds_names_and_skips_functions_and_labels():
    expr = (
        'sum by (service, le) (rate(http_request_duration_seconds_bucket{route!~"/health"}[5m]))'
        " / on (service) group_left max(up) and bool circuit_breaker_state offset 5m > 2"
    )
    assert metric_names(expr) == {
        "http_request_duration_seconds_bucket",
        "up",
        "circuit_breaker_state",
    }


async def exported_metric_names(make_settings: Any) -> set[str]:
    """Every series name a running (embedded) boxoffice's /metrics declares."""
    async with running_system(make_settings("sqlite")):
        text = await scrape()
    names = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            suffixes = {"histogram": ["_bucket", "_sum", "_count"], "summary": ["_sum", "_count"]}
            names |= {name + s for s in suffixes.get(kind, [""])}
    return names


async def test_every_metric_the_dashboard_and_alerts_read_is_exported(make_settings):
    exported = await exported_metric_names(make_settings) | PROMETHEUS_SERIES
    for source, exprs in (("dashboard", dashboard_exprs()), ("alerts", alert_exprs())):
        used = set().union(*map(metric_names, exprs))
        assert used <= exported, f"{source} reads metrics nobody exports: {used - exported}"
