"""The Kubernetes objects of deploy/k8s (design 7.2), built from the same names and ports the code
uses (boxoffice.core.settings), so the five services cannot drift apart. Written out by
scripts/render_deploy.py; `files()` maps each manifest's path under deploy/k8s to its objects."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

from boxoffice.core.settings import DATABASE_NAMES, SERVICE_NAMES, SERVICE_PORTS
from boxoffice.gateway.render import WEB_PORT

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
NAMESPACE = "boxoffice"
SECRET = "boxoffice-secrets"
CONFIG = "boxoffice-config"
# How long a starting replica (imports, start-up hooks, demo data on a busy node) may take before
# liveness applies. Its migration is not in it: that is the job's, waited for before it starts.
STARTUP_SECONDS = 150
# A replica's init container waits this long for the migration job, then its pod starts over.
MIGRATION_WAIT_SECONDS = 600
# A finished migration job is kept a day for `kubectl logs`, then deleted.
JOB_KEPT_SECONDS = 86400
# Liveness asks only whether the process answers (a database outage must not restart every
# pod at once); readiness whether its database answers (no traffic until it does).
LIVE = "/health/live"
READY = "/health/ready"
AUTOSCALED = {"booking": (2, 10), "payment": (2, 10)}

Obj = dict[str, Any]


def version() -> str:
    return str(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"])


def image() -> str:
    return f"boxoffice:{version()}"


def migration_job_name(service: str) -> str:
    """auth-migrate-0-1-0: a job per version, as a job's pod template cannot be changed; a new
    version's `kubectl apply` creates its own instead of failing on the last one."""
    return f"{service}-migrate-{version().replace('.', '-')}"


def db_host(service: str) -> str:
    """auth_db -> auth-db: the database's Service name."""
    return DATABASE_NAMES[service].replace("_", "-")


def meta(name: str, **extra: Any) -> Obj:
    return {
        "name": name,
        "namespace": NAMESPACE,
        "labels": {"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": "boxoffice"},
        **extra,
    }


def resources(cpu: tuple[str, str], memory: tuple[str, str]) -> Obj:
    return {
        "requests": {"cpu": cpu[0], "memory": memory[0]},
        "limits": {"cpu": cpu[1], "memory": memory[1]},
    }


def secret_env(name: str, key: str | None = None) -> Obj:
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": SECRET, "key": key or name}}}


def http_probes(live: str, ready: str | None = None, port: str = "http") -> Obj:
    """Startup and liveness on `live`, readiness on `ready` (the same path when not given)."""
    get = {"path": live, "port": port}
    return {
        "startupProbe": {
            "httpGet": get,
            "periodSeconds": 5,
            "failureThreshold": STARTUP_SECONDS // 5,
        },
        "readinessProbe": {
            "httpGet": {"path": ready or live, "port": port},
            "periodSeconds": 10,
            "timeoutSeconds": 3,
            "failureThreshold": 3,
        },
        "livenessProbe": {
            "httpGet": get,
            "periodSeconds": 20,
            "timeoutSeconds": 5,
            "failureThreshold": 3,
        },
    }


def service(name: str, port: int, *, headless: bool = False, kind: str | None = None) -> Obj:
    spec: Obj = {
        "selector": {"app.kubernetes.io/name": name},
        "ports": [{"name": "http", "port": port, "targetPort": port}],
    }
    if headless:
        spec["clusterIP"] = "None"
    if kind:
        spec["type"] = kind
    return {"apiVersion": "v1", "kind": "Service", "metadata": meta(name), "spec": spec}


def deployment(name: str, pod: Obj, replicas: int = 2) -> Obj:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta(name),
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app.kubernetes.io/name": name}},
            "template": {"metadata": {"labels": meta(name)["labels"]}, "spec": pod},
        },
    }


def config_map(name: str, data: dict[str, str]) -> Obj:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta(name), "data": data}


def boxoffice_container(name: str, args: list[str], env: list[Obj]) -> Obj:
    """A container of the boxoffice image running `boxoffice <args>`."""
    return {
        "name": name,
        "image": image(),
        "args": args,
        "envFrom": [{"configMapRef": {"name": CONFIG}}],
        "env": env,
        "resources": resources(("100m", "1"), ("192Mi", "512Mi")),
        "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
    }


def app_container(part: str, port: int, env: list[Obj]) -> Obj:
    """A container running `boxoffice serve <part>`, probed on /health/live and /health/ready."""
    container = boxoffice_container(
        part, ["serve", part, "--host", "0.0.0.0", "--port", str(port)], env
    )
    head = {k: container.pop(k) for k in ("name", "image", "args")}
    return {
        **head,
        "ports": [{"name": "http", "containerPort": port}],
        **{k: container.pop(k) for k in ("envFrom", "env")},
        **http_probes(LIVE, READY),
        **container,
    }


def app_pod(container: Obj, init: list[Obj] | None = None) -> Obj:
    pod: Obj = {"securityContext": {"runAsNonRoot": True, "runAsUser": 10001, "runAsGroup": 10001}}
    if init:
        pod["initContainers"] = init
    pod["containers"] = [container]
    return pod


# --- namespace, secret ---------------------------------------------------------------------------


def namespace() -> list[Obj]:
    return [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}]


def secret_example() -> list[Obj]:
    return [
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": meta(SECRET),
            "type": "Opaque",
            "stringData": {
                "SECRET_KEY": "<a long random string>",
                "POSTGRES_PASSWORD": "<letters and digits>",
                "RABBITMQ_PASSWORD": "<letters and digits>",
                "GRAFANA_ADMIN_PASSWORD": "<a password>",
            },
        }
    ]


# --- database/ -----------------------------------------------------------------------------------


def postgres(name: str) -> list[Obj]:
    host, database = db_host(name), DATABASE_NAMES[name]
    ready = ["pg_isready", "-U", "boxoffice", "-d", database]
    container = {
        "name": "postgres",
        "image": "postgres:15-alpine",
        "ports": [{"name": "postgres", "containerPort": 5432}],
        "env": [
            {"name": "POSTGRES_DB", "value": database},
            {"name": "POSTGRES_USER", "value": "boxoffice"},
            secret_env("POSTGRES_PASSWORD"),
            {"name": "PGDATA", "value": "/var/lib/postgresql/data/pgdata"},
        ],
        "readinessProbe": {"exec": {"command": ready}, "periodSeconds": 5},
        "livenessProbe": {"exec": {"command": ready}, "periodSeconds": 20, "failureThreshold": 6},
        "resources": resources(("100m", "1"), ("256Mi", "1Gi")),
        "volumeMounts": [{"name": "data", "mountPath": "/var/lib/postgresql/data"}],
    }
    headless = service(host, 5432, headless=True)
    headless["spec"]["ports"] = [{"name": "postgres", "port": 5432, "targetPort": 5432}]
    return [
        headless,
        stateful_set(host, {"containers": [container]}, "5Gi"),
    ]


def stateful_set(name: str, pod: Obj, storage: str) -> Obj:
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": meta(name),
        "spec": {
            "serviceName": name,
            "replicas": 1,
            "selector": {"matchLabels": {"app.kubernetes.io/name": name}},
            "template": {"metadata": {"labels": meta(name)["labels"]}, "spec": pod},
            "volumeClaimTemplates": [
                {
                    "metadata": {"name": "data"},
                    "spec": {
                        "accessModes": ["ReadWriteOnce"],
                        "resources": {"requests": {"storage": storage}},
                    },
                }
            ],
        },
    }


def redis() -> list[Obj]:
    # Holds and caches only: the databases decide, so Redis keeps nothing on disk.
    ping = {"exec": {"command": ["redis-cli", "ping"]}, "periodSeconds": 10}
    container = {
        "name": "redis",
        "image": "redis:7-alpine",
        "args": ["--save", "", "--appendonly", "no"],
        "ports": [{"name": "redis", "containerPort": 6379}],
        "readinessProbe": ping,
        "livenessProbe": ping,
        "resources": resources(("50m", "500m"), ("64Mi", "256Mi")),
    }
    svc = service("redis", 6379)
    svc["spec"]["ports"] = [{"name": "redis", "port": 6379, "targetPort": 6379}]
    return [svc, deployment("redis", {"containers": [container]}, replicas=1)]


def rabbitmq() -> list[Obj]:
    ping = {"exec": {"command": ["rabbitmq-diagnostics", "-q", "ping"]}, "periodSeconds": 20}
    container = {
        "name": "rabbitmq",
        "image": "rabbitmq:3.13-management-alpine",
        "ports": [
            {"name": "amqp", "containerPort": 5672},
            {"name": "management", "containerPort": 15672},
        ],
        "env": [
            {"name": "RABBITMQ_DEFAULT_USER", "value": "boxoffice"},
            secret_env("RABBITMQ_DEFAULT_PASS", "RABBITMQ_PASSWORD"),
        ],
        "readinessProbe": {**ping, "timeoutSeconds": 10},
        "livenessProbe": {**ping, "timeoutSeconds": 10, "failureThreshold": 6},
        "resources": resources(("100m", "1"), ("256Mi", "1Gi")),
        "volumeMounts": [{"name": "data", "mountPath": "/var/lib/rabbitmq"}],
    }
    svc = service("rabbitmq", 5672)
    svc["spec"]["ports"] = [
        {"name": "amqp", "port": 5672, "targetPort": 5672},
        {"name": "management", "port": 15672, "targetPort": 15672},
    ]
    return [svc, stateful_set("rabbitmq", {"containers": [container]}, "2Gi")]


# --- services/ -----------------------------------------------------------------------------------


def shared_config() -> list[Obj]:
    urls = {f"{n.upper()}_SERVICE_URL": f"http://{n}:{SERVICE_PORTS[n]}" for n in SERVICE_NAMES}
    return [
        config_map(
            CONFIG,
            {
                "BOXOFFICE_MODE": "distributed",
                "REDIS_URL": "redis://redis:6379/0",
                **urls,
                "GATEWAY_URL": "http://gateway-site:8081",
                "CORS_ORIGINS": "http://localhost",
                "LOG_JSON": "true",
            },
        )
    ]


def database_env(name: str) -> list[Obj]:
    """The service's DATABASE_URL (and the password it is made with)."""
    return [
        secret_env("POSTGRES_PASSWORD"),
        {
            "name": "DATABASE_URL",
            "value": f"postgresql+asyncpg://boxoffice:$(POSTGRES_PASSWORD)@{db_host(name)}:5432/"
            f"{DATABASE_NAMES[name]}",
        },
    ]


def migration_job(name: str) -> Obj:
    """`boxoffice migrate NAME`, once per version of the service, never by its replicas; it gets
    the database and nothing else (no signing key, no broker password)."""
    job = migration_job_name(name)
    labels = {
        **meta(f"{name}-migrate")["labels"],
        "app.kubernetes.io/component": "migration",
        "app.kubernetes.io/version": version(),
    }
    container = boxoffice_container("migrate", ["migrate", name], database_env(name))
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {**meta(job), "labels": labels},
        "spec": {
            # Its database may still be starting: retried with the kubelet's backoff.
            "backoffLimit": 10,
            "ttlSecondsAfterFinished": JOB_KEPT_SECONDS,
            "template": {
                "metadata": {"labels": labels},
                "spec": {"restartPolicy": "OnFailure", **app_pod(container)},
            },
        },
    }


def app_service(name: str) -> list[Obj]:
    """One service: its migration job, Deployment, Service, and a headless Service Prometheus
    finds pods by."""
    port = SERVICE_PORTS[name]
    env = [
        secret_env("SECRET_KEY"),
        *database_env(name),
        secret_env("RABBITMQ_PASSWORD"),
        {"name": "RABBITMQ_URL", "value": "amqp://boxoffice:$(RABBITMQ_PASSWORD)@rabbitmq:5672/"},
    ]
    # The replicas start once the job has brought the database to their version (or a newer
    # one, during a rolling update), and never migrate it themselves.
    wait = boxoffice_container(
        "wait-for-migration",
        ["migrate", name, "--check", "--wait", str(MIGRATION_WAIT_SECONDS)],
        database_env(name),
    )
    pods = service(name, port, headless=True)
    pods["metadata"]["name"] = f"{name}-pods"
    return [
        migration_job(name),
        deployment(name, app_pod(app_container(name, port, env), init=[wait])),
        service(name, port),
        pods,
    ]


def web() -> list[Obj]:
    container = app_container("web", WEB_PORT, [secret_env("SECRET_KEY")])
    return [deployment("web", app_pod(container)), service("web", WEB_PORT)]


def gateway(nginx_conf: str) -> list[Obj]:
    container = {
        "name": "nginx",
        "image": "nginx:1.27-alpine",
        "ports": [{"name": "http", "containerPort": 80}, {"name": "site", "containerPort": 8081}],
        **{k: v for k, v in http_probes("/gateway/health").items() if k != "startupProbe"},
        "resources": resources(("50m", "500m"), ("32Mi", "128Mi")),
        "volumeMounts": [
            {
                "name": "config",
                "mountPath": "/etc/nginx/nginx.conf",
                "subPath": "nginx.conf",
                "readOnly": True,
            }
        ],
    }
    pod = {
        "containers": [container],
        "volumes": [{"name": "config", "configMap": {"name": "gateway-nginx"}}],
    }
    svc = service("gateway", 80, kind="LoadBalancer")
    # The web site's way in (GATEWAY_URL): the same NGINX on its site port, inside the cluster
    # only, where the site's calls skip the general rate limit (it limits each visitor itself).
    site = service("gateway-site", 8081)
    site["spec"]["selector"] = {"app.kubernetes.io/name": "gateway"}
    return [
        config_map("gateway-nginx", {"nginx.conf": nginx_conf}),
        deployment("gateway", pod),
        svc,
        site,
    ]


# --- monitoring/ ---------------------------------------------------------------------------------


def prometheus() -> list[Obj]:
    files = {
        "prometheus.yml": (DEPLOY / "prometheus/prometheus-k8s.yml").read_text(),
        "alerts.yml": (DEPLOY / "prometheus/alerts.yml").read_text(),
    }
    container = {
        "name": "prometheus",
        "image": "prom/prometheus:v2.53.4",
        "args": [
            "--config.file=/etc/prometheus/prometheus.yml",
            "--storage.tsdb.path=/prometheus",
            "--storage.tsdb.retention.time=15d",
        ],
        "ports": [{"name": "http", "containerPort": 9090}],
        "readinessProbe": {"httpGet": {"path": "/-/ready", "port": "http"}, "periodSeconds": 10},
        "livenessProbe": {"httpGet": {"path": "/-/healthy", "port": "http"}, "periodSeconds": 20},
        "resources": resources(("100m", "1"), ("256Mi", "1Gi")),
        "volumeMounts": [
            {"name": "config", "mountPath": "/etc/prometheus", "readOnly": True},
            {"name": "data", "mountPath": "/prometheus"},
        ],
    }
    pod = {
        "containers": [container],
        "volumes": [
            {"name": "config", "configMap": {"name": "prometheus-config"}},
            {"name": "data", "emptyDir": {}},
        ],
    }
    return [
        config_map("prometheus-config", files),
        deployment("prometheus", pod, replicas=1),
        service("prometheus", 9090),
    ]


def grafana() -> list[Obj]:
    provisioning = DEPLOY / "grafana/provisioning"
    dashboards = sorted((DEPLOY / "grafana/dashboards").glob("*.json"))
    container = {
        "name": "grafana",
        "image": "grafana/grafana:11.6.0",
        "env": [
            {"name": "GF_SECURITY_ADMIN_USER", "value": "admin"},
            secret_env("GF_SECURITY_ADMIN_PASSWORD", "GRAFANA_ADMIN_PASSWORD"),
            {"name": "GF_USERS_ALLOW_SIGN_UP", "value": "false"},
        ],
        "ports": [{"name": "http", "containerPort": 3000}],
        "readinessProbe": {"httpGet": {"path": "/api/health", "port": "http"}, "periodSeconds": 10},
        "livenessProbe": {"httpGet": {"path": "/api/health", "port": "http"}, "periodSeconds": 20},
        "resources": resources(("50m", "500m"), ("128Mi", "512Mi")),
        "volumeMounts": [
            {"name": "datasources", "mountPath": "/etc/grafana/provisioning/datasources"},
            {"name": "providers", "mountPath": "/etc/grafana/provisioning/dashboards"},
            {"name": "dashboards", "mountPath": "/etc/grafana/dashboards"},
        ],
    }
    pod = {
        "containers": [container],
        "volumes": [
            {"name": "datasources", "configMap": {"name": "grafana-datasources"}},
            {"name": "providers", "configMap": {"name": "grafana-dashboard-providers"}},
            {"name": "dashboards", "configMap": {"name": "grafana-dashboards"}},
        ],
    }

    def folder(sub: str) -> dict[str, str]:
        return {p.name: p.read_text() for p in sorted((provisioning / sub).glob("*.yml"))}

    # Compact JSON: a ConfigMap holds at most 1 MiB.
    boards = {
        p.name: json.dumps(json.loads(p.read_text()), separators=(",", ":")) for p in dashboards
    }
    return [
        config_map("grafana-datasources", folder("datasources")),
        config_map("grafana-dashboard-providers", folder("dashboards")),
        config_map("grafana-dashboards", boards),
        deployment("grafana", pod, replicas=1),
        service("grafana", 3000),
    ]


# --- autoscaling/ --------------------------------------------------------------------------------


def hpa() -> list[Obj]:
    return [
        {
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "metadata": meta(name),
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
                "minReplicas": low,
                "maxReplicas": high,
                "metrics": [
                    {
                        "type": "Resource",
                        "resource": {
                            "name": "cpu",
                            "target": {"type": "Utilization", "averageUtilization": 70},
                        },
                    }
                ],
            },
        }
        for name, (low, high) in AUTOSCALED.items()
    ]


def files(nginx_conf: str) -> dict[str, list[Obj]]:
    """Each manifest's path under deploy/k8s, in the order of design 7.2's kubectl commands."""
    out: dict[str, list[Obj]] = {
        "namespace.yaml": namespace(),
        "secret.example.yaml": secret_example(),
    }
    for name in SERVICE_NAMES:
        out[f"database/{db_host(name)}.yaml"] = postgres(name)
    out["database/redis.yaml"] = redis()
    out["database/rabbitmq.yaml"] = rabbitmq()
    out["services/config.yaml"] = shared_config()
    for name in SERVICE_NAMES:
        out[f"services/{name}.yaml"] = app_service(name)
    out["services/web.yaml"] = web()
    out["services/gateway.yaml"] = gateway(nginx_conf)
    out["monitoring/prometheus.yaml"] = prometheus()
    out["monitoring/grafana.yaml"] = grafana()
    out["autoscaling/hpa.yaml"] = hpa()
    return out
