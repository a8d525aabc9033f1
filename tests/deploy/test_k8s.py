"""deploy/k8s: laid out as design 7.2, valid against the Kubernetes schemas, and freshly
rendered from the code's names and ports (scripts/render_deploy.py)."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from boxoffice.core.settings import DATABASE_NAMES, SERVICE_NAMES, SERVICE_PORTS
from tests.deploy.tools import DEPLOY, SCRIPTS, venv_tool

K8S = DEPLOY / "k8s"
MANIFESTS = sorted(K8S.rglob("*.yaml"))


def objects(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def find(kind: str, name: str) -> dict[str, Any]:
    for path in MANIFESTS:
        for obj in objects(path):
            if obj["kind"] == kind and obj["metadata"]["name"] == name:
                return obj
    raise AssertionError(f"no {kind} {name} under deploy/k8s")


def validate(*paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [venv_tool("kubernetes-validate"), "--strict", "--quiet", *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_layout_follows_the_design_kubectl_steps():
    for part in ("namespace.yaml", "database", "services", "monitoring", "autoscaling/hpa.yaml"):
        assert (K8S / part).exists(), part
    assert objects(K8S / "namespace.yaml")[0]["kind"] == "Namespace"


def test_every_manifest_passes_the_kubernetes_schemas():
    result = validate(*MANIFESTS)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_misspelled_field_fails_the_schema_check(tmp_path):
    broken = tmp_path / "broken.yaml"
    deployment = find("Deployment", "booking")
    deployment["spec"]["replica"] = deployment["spec"].pop("replicas")
    broken.write_text(yaml.safe_dump(deployment))
    result = validate(broken)
    assert result.returncode != 0
    assert "replica" in result.stdout + result.stderr


def test_generated_files_are_fresh():
    result = subprocess.run(
        [sys.executable, str(SCRIPTS / "render_deploy.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def probed_paths(container: dict[str, Any]) -> dict[str, str]:
    return {
        probe: container[probe]["httpGet"]["path"]
        for probe in ("startupProbe", "livenessProbe", "readinessProbe")
    }


@pytest.mark.parametrize("name", [*SERVICE_NAMES, "web"])
def test_liveness_asks_only_whether_the_process_answers_readiness_whether_it_can_serve(name):
    """A database outage takes the replicas out of the Service; it restarts none of them."""
    (container,) = find("Deployment", name)["spec"]["template"]["spec"]["containers"]
    assert probed_paths(container) == {
        "startupProbe": "/health/live",
        "livenessProbe": "/health/live",
        "readinessProbe": "/health/ready",
    }


@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_each_service_is_probed_on_health_and_has_resource_bounds(name):
    deployment = find("Deployment", name)
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    port = SERVICE_PORTS[name]
    assert container["args"] == ["serve", name, "--host", "0.0.0.0", "--port", str(port)]
    assert container["ports"] == [{"name": "http", "containerPort": port}]
    assert set(container["resources"]) == {"requests", "limits"}
    assert set(container["resources"]["requests"]) == {"cpu", "memory"}
    assert find("Service", name)["spec"]["ports"][0]["port"] == port
    assert deployment["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] is True


@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_each_service_uses_its_own_database_and_secrets_from_the_secret(name):
    (container,) = find("Deployment", name)["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e for e in container["env"]}
    host = DATABASE_NAMES[name].replace("_", "-")
    assert env["DATABASE_URL"]["value"].endswith(f"@{host}:5432/{DATABASE_NAMES[name]}")
    assert env["SECRET_KEY"]["valueFrom"]["secretKeyRef"]["name"] == "boxoffice-secrets"
    database = find("StatefulSet", host)["spec"]["template"]["spec"]["containers"][0]
    db_env = {e["name"]: e.get("value") for e in database["env"]}
    assert db_env["POSTGRES_DB"] == DATABASE_NAMES[name]
    assert database["image"].startswith("postgres:15")


def job_name(service: str) -> str:
    version = tomllib.loads((DEPLOY.parent / "pyproject.toml").read_text())["project"]["version"]
    return f"{service}-migrate-{version.replace('.', '-')}"


@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_each_database_is_migrated_by_one_job_and_the_replicas_wait_for_it(name):
    job = find("Job", job_name(name))["spec"]
    (migrate,) = job["template"]["spec"]["containers"]
    assert migrate["args"] == ["migrate", name]
    assert job["template"]["spec"]["restartPolicy"] in ("OnFailure", "Never")
    pod = find("Deployment", name)["spec"]["template"]["spec"]
    (service,) = pod["containers"]
    (wait,) = pod["initContainers"]
    assert wait["args"][:3] == ["migrate", name, "--check"]
    assert "--wait" in wait["args"]
    for container in (migrate, wait):
        assert container["image"] == service["image"]
        env = {e["name"]: e for e in container["env"]}
        assert env["DATABASE_URL"] == {e["name"]: e for e in service["env"]}["DATABASE_URL"]
        assert "SECRET_KEY" not in env  # migrating needs the database, nothing else


def test_no_long_running_container_migrates():
    """Only the jobs migrate: a Deployment's containers serve, or check and wait."""
    for path in MANIFESTS:
        for obj in objects(path):
            if obj["kind"] != "Deployment":
                continue
            pod = obj["spec"]["template"]["spec"]
            for container in [*pod.get("initContainers", []), *pod["containers"]]:
                args = container.get("args", [])
                assert "--migrate" not in args, obj["metadata"]["name"]
                if args[:1] == ["migrate"]:
                    assert "--check" in args, obj["metadata"]["name"]


def test_booking_and_payment_scale_on_cpu():
    hpas = objects(K8S / "autoscaling/hpa.yaml")
    targets = {h["spec"]["scaleTargetRef"]["name"]: h["spec"] for h in hpas}
    assert set(targets) == {"booking", "payment"}
    for spec in targets.values():
        assert spec["metrics"][0]["resource"]["name"] == "cpu"
        assert spec["minReplicas"] < spec["maxReplicas"]


def test_monitoring_config_maps_carry_the_same_files_as_compose():
    prometheus = find("ConfigMap", "prometheus-config")["data"]
    assert prometheus["alerts.yml"] == (DEPLOY / "prometheus/alerts.yml").read_text()
    assert prometheus["prometheus.yml"] == (DEPLOY / "prometheus/prometheus-k8s.yml").read_text()
    dashboards = find("ConfigMap", "grafana-dashboards")["data"]
    assert yaml.safe_load(dashboards["boxoffice.json"])["uid"] == "boxoffice-overview"
    gateway = find("ConfigMap", "gateway-nginx")["data"]["nginx.conf"]
    assert gateway == (DEPLOY / "nginx/nginx.conf").read_text()


def test_prometheus_finds_every_replica_of_every_service():
    config = yaml.safe_load((DEPLOY / "prometheus/prometheus-k8s.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    for name in SERVICE_NAMES:
        (sd,) = jobs[name]["dns_sd_configs"]
        assert sd["port"] == SERVICE_PORTS[name]
        host = sd["names"][0].split(".")[0]
        assert find("Service", host)["spec"]["clusterIP"] == "None"
