"""deploy/k8s: a kustomize base and its local and production overlays, each rendered with
`kubectl kustomize`, valid against the Kubernetes schemas, with the code's names and ports
(boxoffice.core.settings), and closed by NetworkPolicies to all but the calls the code makes."""

from __future__ import annotations

import copy
import functools
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from boxoffice.gateway.render import WEB_PORT
from boxoffice.topology import DATABASE_NAMES, SERVICE_NAMES, SERVICE_PORTS
from tests.deploy.tools import DEPLOY, SCRIPTS, kubectl, venv_tool

K8S = DEPLOY / "k8s"
BASE = K8S / "base"
OVERLAYS = ("local", "production")
VERSION = tomllib.loads((DEPLOY.parent / "pyproject.toml").read_text())["project"]["version"]
# The calls one service makes to another (booking's MovieClient, movie's seat map, payment's
# booking client): the only ways in to a service besides the gateway's and Prometheus's.
PEER_CALLS = {("booking", "movie"), ("movie", "booking"), ("payment", "booking")}

Obj = dict[str, Any]


@functools.cache
def render(overlay: str) -> str:
    result = subprocess.run(
        [kubectl(), "kustomize", str(K8S / "overlays" / overlay)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@functools.cache
def objects(overlay: str) -> list[Obj]:
    """The overlay's objects, parsed once: shared by the tests, so copy one before changing it."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return [doc for doc in yaml.load_all(render(overlay), Loader=loader) if doc]


def find(overlay: str, kind: str, name: str) -> Obj:
    for obj in objects(overlay):
        if obj["kind"] == kind and obj["metadata"]["name"] == name:
            return obj
    raise AssertionError(f"no {kind} {name} in overlay {overlay}")


def config_map(overlay: str, name: str) -> Obj:
    """A generated ConfigMap, whose name carries a hash of its content (name-<hash>)."""
    (found,) = [
        o
        for o in objects(overlay)
        if o["kind"] == "ConfigMap" and o["metadata"]["name"].rsplit("-", 1)[0] == name
    ]
    return found


def validate(*paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [venv_tool("kubernetes-validate"), "--strict", "--quiet", *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def db_host(name: str) -> str:
    return DATABASE_NAMES[name].replace("_", "-")


# --- layout, schemas, copies ---------------------------------------------------------------------


def test_every_manifest_of_the_base_is_in_its_kustomization():
    """A file left out of `resources` would silently never be applied."""
    listed = set(yaml.safe_load((BASE / "kustomization.yaml").read_text())["resources"])
    on_disk = {
        str(p.relative_to(BASE)) for p in BASE.rglob("*.yaml") if p.name != "kustomization.yaml"
    }
    assert listed == on_disk


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_overlay_passes_the_kubernetes_schemas(overlay, tmp_path):
    rendered = tmp_path / f"{overlay}.yaml"
    rendered.write_text(render(overlay))
    result = validate(rendered)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_misspelled_field_fails_the_schema_check(tmp_path):
    broken = tmp_path / "broken.yaml"
    deployment = copy.deepcopy(find("production", "Deployment", "booking"))
    deployment["spec"]["replica"] = deployment["spec"].pop("replicas")
    broken.write_text(yaml.safe_dump(deployment))
    result = validate(broken)
    assert result.returncode != 0
    assert "replica" in result.stdout + result.stderr


def test_generated_files_are_fresh():
    """deploy/nginx/nginx.conf and the base's copies of the files its ConfigMaps carry."""
    result = subprocess.run(
        [sys.executable, str(SCRIPTS / "render_deploy.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_config_maps_carry_the_same_files_as_compose():
    prometheus = config_map("production", "prometheus-config")["data"]
    assert prometheus["alerts.yml"] == (DEPLOY / "prometheus/alerts.yml").read_text()
    assert prometheus["prometheus.yml"] == (DEPLOY / "prometheus/prometheus-k8s.yml").read_text()
    dashboards = config_map("production", "grafana-dashboards")["data"]
    assert yaml.safe_load(dashboards["boxoffice.json"])["uid"] == "boxoffice-overview"
    gateway = config_map("production", "gateway-nginx")["data"]["nginx.conf"]
    assert gateway == (DEPLOY / "nginx/nginx.conf").read_text()


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_config_map_a_pod_reads_is_rendered(overlay):
    """kustomize renames a generated ConfigMap (name-<hash>) and must rename each use too."""
    names = {o["metadata"]["name"] for o in objects(overlay) if o["kind"] == "ConfigMap"}
    used = set()
    for obj in objects(overlay):
        if obj["kind"] not in ("Deployment", "StatefulSet", "Job"):
            continue
        pod = obj["spec"]["template"]["spec"]
        used |= {v["configMap"]["name"] for v in pod.get("volumes", []) if "configMap" in v}
        for container in [*pod.get("initContainers", []), *pod["containers"]]:
            used |= {e["configMapRef"]["name"] for e in container.get("envFrom", [])}
    assert used and used <= names


# --- names and ports as the code has them --------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_services_listen_and_are_found_where_the_settings_say(overlay):
    config = config_map(overlay, "boxoffice-config")["data"]
    for name in SERVICE_NAMES:
        port = SERVICE_PORTS[name]
        (container,) = find(overlay, "Deployment", name)["spec"]["template"]["spec"]["containers"]
        assert container["args"] == ["serve", name, "--host", "0.0.0.0", "--port", str(port)]
        assert container["ports"] == [{"name": "http", "containerPort": port}]
        assert find(overlay, "Service", name)["spec"]["ports"][0]["port"] == port
        assert config[f"{name.upper()}_SERVICE_URL"] == f"http://{name}:{port}"
    (web,) = find(overlay, "Deployment", "web")["spec"]["template"]["spec"]["containers"]
    assert web["ports"] == [{"name": "http", "containerPort": WEB_PORT}]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_gateway_is_public_on_80_and_the_site_reaches_it_on_its_own_port(overlay):
    public = find(overlay, "Service", "gateway")["spec"]
    assert public["type"] == "LoadBalancer"
    assert [p["port"] for p in public["ports"]] == [80]
    site = find(overlay, "Service", "gateway-site")["spec"]
    assert site.get("type", "ClusterIP") == "ClusterIP"
    assert [p["port"] for p in site["ports"]] == [8081]
    assert site["selector"] == {"app.kubernetes.io/name": "gateway"}
    assert config_map(overlay, "boxoffice-config")["data"]["GATEWAY_URL"] == (
        "http://gateway-site:8081"
    )


def probed_paths(container: Obj) -> dict[str, str]:
    return {
        probe: container[probe]["httpGet"]["path"]
        for probe in ("startupProbe", "livenessProbe", "readinessProbe")
    }


@pytest.mark.parametrize("name", [*SERVICE_NAMES, "web"])
def test_liveness_asks_only_whether_the_process_answers_readiness_whether_it_can_serve(name):
    """A database outage takes the replicas out of the Service; it restarts none of them."""
    for overlay in OVERLAYS:
        spec = find(overlay, "Deployment", name)["spec"]["template"]["spec"]
        (container,) = spec["containers"]
        assert probed_paths(container) == {
            "startupProbe": "/health/live",
            "livenessProbe": "/health/live",
            "readinessProbe": "/health/ready",
        }
        assert set(container["resources"]) == {"requests", "limits"}
        assert set(container["resources"]["requests"]) == {"cpu", "memory"}
        assert spec["securityContext"]["runAsNonRoot"] is True


@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_each_service_uses_its_own_database_and_secrets_from_the_secret(name):
    (container,) = find("production", "Deployment", name)["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e for e in container["env"]}
    host = db_host(name)
    assert env["DATABASE_URL"]["value"].endswith(f"@{host}:5432/{DATABASE_NAMES[name]}")
    assert env["SECRET_KEY"]["valueFrom"]["secretKeyRef"]["name"] == "boxoffice-secrets"
    database = find("production", "StatefulSet", host)["spec"]["template"]["spec"]["containers"][0]
    db_env = {e["name"]: e.get("value") for e in database["env"]}
    assert db_env["POSTGRES_DB"] == DATABASE_NAMES[name]
    assert database["image"].startswith("postgres:15")


@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_each_database_is_migrated_by_one_job_and_the_replicas_wait_for_it(name):
    """One job per version (a job's pod template cannot change): bump its name with the version."""
    job = find("production", "Job", f"{name}-migrate-{VERSION.replace('.', '-')}")["spec"]
    (migrate,) = job["template"]["spec"]["containers"]
    assert migrate["args"] == ["migrate", name]
    assert job["template"]["spec"]["restartPolicy"] in ("OnFailure", "Never")
    pod = find("production", "Deployment", name)["spec"]["template"]["spec"]
    (service,) = pod["containers"]
    (wait,) = pod["initContainers"]
    assert wait["args"][:3] == ["migrate", name, "--check"]
    assert "--wait" in wait["args"]
    for container in (migrate, wait):
        assert container["image"] == service["image"]
        env = {e["name"]: e for e in container["env"]}
        assert env["DATABASE_URL"] == {e["name"]: e for e in service["env"]}["DATABASE_URL"]
        assert "SECRET_KEY" not in env  # migrating needs the database, nothing else


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_boxoffice_container_runs_this_version(overlay):
    images = set()
    for obj in objects(overlay):
        if obj["kind"] in ("Deployment", "Job"):
            pod = obj["spec"]["template"]["spec"]
            for container in [*pod.get("initContainers", []), *pod["containers"]]:
                if "boxoffice" in container["image"]:
                    images.add(container["image"])
    (image,) = images
    assert image.endswith(f"boxoffice:{VERSION}")


def test_no_long_running_container_migrates():
    """Only the jobs migrate: a Deployment's containers serve, or check and wait."""
    for obj in objects("production"):
        if obj["kind"] != "Deployment":
            continue
        pod = obj["spec"]["template"]["spec"]
        for container in [*pod.get("initContainers", []), *pod["containers"]]:
            args = container.get("args", [])
            assert "--migrate" not in args, obj["metadata"]["name"]
            if args[:1] == ["migrate"]:
                assert "--check" in args, obj["metadata"]["name"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_booking_and_payment_scale_on_cpu(overlay):
    hpas = [o for o in objects(overlay) if o["kind"] == "HorizontalPodAutoscaler"]
    targets = {h["spec"]["scaleTargetRef"]["name"]: h["spec"] for h in hpas}
    assert set(targets) == {"booking", "payment"}
    for spec in targets.values():
        assert spec["metrics"][0]["resource"]["name"] == "cpu"
        assert spec["minReplicas"] < spec["maxReplicas"]


def test_prometheus_finds_every_replica_of_every_service():
    config = yaml.safe_load((DEPLOY / "prometheus/prometheus-k8s.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    for name in SERVICE_NAMES:
        (sd,) = jobs[name]["dns_sd_configs"]
        assert sd["port"] == SERVICE_PORTS[name]
        host = sd["names"][0].split(".")[0]
        assert find("production", "Service", host)["spec"]["clusterIP"] == "None"


# --- disruption budgets, ingress -----------------------------------------------------------------


def selects(selector: Obj, labels: dict[str, str]) -> bool:
    """Whether a label selector (matchLabels, matchExpressions with In) picks these labels."""
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for expression in selector.get("matchExpressions", []):
        assert expression["operator"] == "In", expression
        if labels.get(expression["key"]) not in expression["values"]:
            return False
    return True


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_replicated_deployment_has_a_disruption_budget(overlay):
    budgets = [o["spec"] for o in objects(overlay) if o["kind"] == "PodDisruptionBudget"]
    replicated = [
        o for o in objects(overlay) if o["kind"] == "Deployment" and o["spec"]["replicas"] > 1
    ]
    assert overlay == "local" or len(replicated) == len(SERVICE_NAMES) + 2  # web, gateway
    for deployment in replicated:
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        (budget,) = [b for b in budgets if selects(b["selector"], labels)]
        # A number, not a share: a drain never waits on a Deployment scaled down to one.
        assert budget["maxUnavailable"] == 1


def test_production_serves_the_gateway_over_tls_at_one_host():
    spec = find("production", "Ingress", "gateway")["spec"]
    (rule,) = spec["rules"]
    (tls,) = spec["tls"]
    assert tls["hosts"] == [rule["host"]]
    assert tls["secretName"]
    (path,) = rule["http"]["paths"]
    assert path["backend"]["service"] == {"name": "gateway", "port": {"number": 80}}
    cors = config_map("production", "boxoffice-config")["data"]["CORS_ORIGINS"]
    assert cors == f"https://{rule['host']}"


# --- network policies ----------------------------------------------------------------------------

# A peer: its namespace and pod labels, or None for an address outside the cluster.
Peer = tuple[str, dict[str, str]] | None
OUTSIDE: Peer = None


def pod(name: str) -> Peer:
    return ("boxoffice", {"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": "boxoffice"})


def peer_matches(rule_peer: Obj, peer: Peer) -> bool:
    if "ipBlock" in rule_peer:
        return peer is OUTSIDE
    if peer is OUTSIDE:
        return False
    namespace, labels = peer
    if "namespaceSelector" in rule_peer:
        namespaces_ok = rule_peer["namespaceSelector"] == {} or selects(
            rule_peer["namespaceSelector"], {"kubernetes.io/metadata.name": namespace}
        )
    else:
        namespaces_ok = namespace == "boxoffice"
    return namespaces_ok and selects(rule_peer.get("podSelector", {}), labels)


def rule_admits(rule: Obj, side: str, peer: Peer, port: int, protocol: str) -> bool:
    peers = rule.get(side)
    if peers and not any(peer_matches(p, peer) for p in peers):
        return False
    ports = rule.get("ports")
    return not ports or any(
        p["port"] == port and p.get("protocol", "TCP") == protocol for p in ports
    )


def allowed_one_way(
    direction: str, subject: Peer, peer: Peer, port: int, protocol: str, policies: list[Obj]
) -> bool:
    """Whether `subject`'s policies let its Ingress come from (Egress go to) `peer`."""
    if subject is OUTSIDE or subject[0] != "boxoffice":
        return True  # no policies of ours there
    side = "from" if direction == "Ingress" else "to"
    chosen = [
        p["spec"]
        for p in policies
        if direction in p["spec"]["policyTypes"] and selects(p["spec"]["podSelector"], subject[1])
    ]
    if not chosen:
        return True
    return any(
        rule_admits(rule, side, peer, port, protocol)
        for spec in chosen
        for rule in spec.get(direction.lower(), [])
    )


def policies() -> list[Obj]:
    return [o for o in objects("production") if o["kind"] == "NetworkPolicy"]


def can_connect(source: Peer, target: Peer, port: int, protocol: str = "TCP") -> bool:
    return allowed_one_way("Egress", source, target, port, protocol, policies()) and (
        admits(target, source, port, protocol)
    )


def admits(target: Peer, source: Peer, port: int, protocol: str = "TCP") -> bool:
    """Whether the target's own policies let this source in, whatever the source's say."""
    return allowed_one_way("Ingress", target, source, port, protocol, policies())


COMPONENTS = [*SERVICE_NAMES, "web", "gateway", "prometheus", "grafana", "redis", "rabbitmq"]


def test_network_policies_match_in_both_overlays():
    policies = {
        overlay: sorted(
            (o for o in objects(overlay) if o["kind"] == "NetworkPolicy"),
            key=lambda o: o["metadata"]["name"],
        )
        for overlay in OVERLAYS
    }
    assert policies["local"] == policies["production"]


def test_whatever_no_policy_allows_is_denied():
    """The base denies all traffic of every pod; each policy then opens what one pod needs."""
    assert not can_connect(pod("web"), pod("redis"), 6379)
    assert not can_connect(pod("grafana"), pod("auth"), SERVICE_PORTS["auth"])
    assert not can_connect(OUTSIDE, pod("grafana"), 3000)


@pytest.mark.parametrize("name", [*COMPONENTS, *(db_host(n) for n in SERVICE_NAMES)])
def test_every_pod_can_resolve_names(name):
    dns = ("kube-system", {"k8s-app": "kube-dns"})
    assert can_connect(pod(name), dns, 53, "UDP")
    assert can_connect(pod(name), dns, 53, "TCP")


@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_only_the_gateway_prometheus_and_the_code_s_callers_reach_a_service(name):
    port = SERVICE_PORTS[name]
    assert can_connect(pod("gateway"), pod(name), port)
    assert can_connect(pod("prometheus"), pod(name), port)  # /metrics
    assert not can_connect(OUTSIDE, pod(name), port)
    for other in COMPONENTS:
        if other in ("gateway", "prometheus", name):
            continue
        expected = (other, name) in PEER_CALLS
        assert can_connect(pod(other), pod(name), port) is expected, (other, name)


@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_only_a_service_and_its_migration_job_reach_its_database(name):
    database = pod(db_host(name))
    assert can_connect(pod(name), database, 5432)
    assert can_connect(pod(f"{name}-migrate"), database, 5432)
    # Each side closes it: the other pods' egress, and the database's own ingress.
    for other in COMPONENTS:
        if other != name:
            assert not can_connect(pod(other), database, 5432), other
            assert not admits(database, pod(other), 5432), other
    for other in SERVICE_NAMES:
        if other != name:
            assert not can_connect(pod(f"{other}-migrate"), database, 5432), other
            assert not admits(database, pod(f"{other}-migrate"), 5432), other


@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_each_service_reaches_redis_and_the_broker(name):
    assert can_connect(pod(name), pod("redis"), 6379)
    assert can_connect(pod(name), pod("rabbitmq"), 5672)


def test_the_site_reaches_the_gateway_only_on_its_own_port():
    assert can_connect(pod("web"), pod("gateway"), 8081)
    assert not can_connect(pod("web"), pod("gateway"), 80)
    assert not can_connect(OUTSIDE, pod("gateway"), 8081)
    assert can_connect(pod("gateway"), pod("web"), WEB_PORT)
    for name in SERVICE_NAMES:
        assert not can_connect(pod("web"), pod(name), SERVICE_PORTS[name])
        assert not can_connect(pod(name), pod("gateway"), 8081)


def test_the_world_and_the_ingress_controller_reach_the_gateway_on_80():
    controller = ("ingress-nginx", {"app.kubernetes.io/name": "ingress-nginx"})
    assert can_connect(OUTSIDE, pod("gateway"), 80)
    assert can_connect(controller, pod("gateway"), 80)


def test_grafana_reads_prometheus_and_notification_sends_mail():
    assert can_connect(pod("grafana"), pod("prometheus"), 9090)
    assert can_connect(pod("notification"), OUTSIDE, 587)
    assert not can_connect(pod("booking"), OUTSIDE, 587)
