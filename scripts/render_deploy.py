"""Write the deployment files that are made from code or from other files, so they never drift:

- deploy/nginx/nginx.conf: the gateway for compose, from src/boxoffice/gateway's one template;
- deploy/k8s/base/files/: the copies of that NGINX config, the Prometheus config and alerts and
  the Grafana provisioning and dashboard that the kustomize base turns into ConfigMaps
  (configMapGenerator). kustomize reads no file outside its own folder, so the base keeps
  copies, and this script keeps them equal to the originals.

    .venv/bin/python scripts/render_deploy.py          # write them
    .venv/bin/python scripts/render_deploy.py --check  # exit 1 if a committed file is stale

The gateway's rate limits are rendered from the settings' defaults (RATE_LIMIT_GENERAL,
RATE_LIMIT_BOOKING); a deployment that needs other limits renders its own copy.
"""

from __future__ import annotations

import sys
from pathlib import Path

from boxoffice.gateway.render import render_compose
from boxoffice.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
K8S_FILES = DEPLOY / "k8s/base/files"
# Each copy under deploy/k8s/base/files and the original it mirrors, under deploy/.
MIRRORED = {
    "nginx/nginx.conf": "nginx/nginx.conf",
    "prometheus/prometheus.yml": "prometheus/prometheus-k8s.yml",
    "prometheus/alerts.yml": "prometheus/alerts.yml",
    "grafana/datasources/prometheus.yml": "grafana/provisioning/datasources/prometheus.yml",
    "grafana/dashboards/boxoffice.yml": "grafana/provisioning/dashboards/boxoffice.yml",
    "grafana/boxoffice.json": "grafana/dashboards/boxoffice.json",
}


def nginx_conf() -> str:
    # Defaults only: the environment of whoever renders must not change the committed file.
    return render_compose(Settings.model_construct())


def rendered() -> dict[Path, str]:
    """Every generated file's path and its fresh content."""
    nginx_path = DEPLOY / "nginx/nginx.conf"
    out = {nginx_path: nginx_conf()}
    for copy, original in MIRRORED.items():
        source = DEPLOY / original
        out[K8S_FILES / copy] = out[source] if source in out else source.read_text(encoding="utf-8")
    return out


def stale() -> list[Path]:
    """Generated files whose committed content differs from a fresh render (or are missing)."""
    return [
        path
        for path, text in rendered().items()
        if not path.exists() or path.read_text(encoding="utf-8") != text
    ]


def main(argv: list[str]) -> int:
    if argv[1:] == ["--check"]:
        paths = stale()
        for path in paths:
            print(f"stale: {path.relative_to(ROOT)}")
        if paths:
            print("run: .venv/bin/python scripts/render_deploy.py")
        return 1 if paths else 0
    if argv[1:]:
        print(__doc__, file=sys.stderr)
        return 2
    for path, text in rendered().items():
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
