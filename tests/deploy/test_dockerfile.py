"""The Dockerfile: hadolint-clean, non-root, `boxoffice` as entrypoint; and what its build context
(.dockerignore) lets in makes a package carrying every file the code needs at run time."""

from __future__ import annotations

import fnmatch
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from tests.deploy.tools import ROOT, venv_tool

DOCKERFILE = ROOT / "Dockerfile"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined."""
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
    return [(ln.split(None, 1)[0].upper(), ln.split(None, 1)[1]) for ln in lines]


def build_context(dest: Path) -> None:
    """Copy the repository as Docker would send it: .dockerignore's rules, in order."""
    rules = [
        ln.strip()
        for ln in (ROOT / ".dockerignore").read_text().splitlines()
        if ln.strip() and not ln.startswith("#")
    ]
    files = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    for rel in files:
        included = True
        for rule in rules:
            negate = rule.startswith("!")
            pattern = rule.lstrip("!").rstrip("/")
            if fnmatch.fnmatch(rel, pattern) or rel.startswith(pattern + "/"):
                included = negate
        if included and (ROOT / rel).is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, dest / rel)


def test_dockerfile_passes_hadolint():
    result = subprocess.run(
        [venv_tool("hadolint"), "--no-color", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_image_is_python_311_slim_runs_boxoffice_as_a_non_root_user():
    steps = instructions()
    bases = [args for op, args in steps if op == "FROM"]
    assert all(b.startswith("python:3.11-slim") for b in bases)
    user = [args for op, args in steps if op == "USER"][-1]
    assert user.split(":")[0] not in ("0", "root")
    assert [args for op, args in steps if op == "ENTRYPOINT"] == ['["boxoffice"]']
    assert next(args for op, args in steps if op == "CMD").startswith('["serve"')


def test_build_context_makes_a_package_with_every_source_file(tmp_path):
    context = tmp_path / "context"
    build_context(context)
    assert {p.name for p in context.iterdir()} == {
        "pyproject.toml",
        "README.md",
        "src",
        "requirements",
    }
    wheels = tmp_path / "wheels"
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(wheels), "."],
        cwd=context,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    (wheel,) = wheels.glob("boxoffice-*.whl")
    packaged = set(zipfile.ZipFile(wheel).namelist())
    sources = {
        str(p.relative_to(context / "src"))
        for p in (context / "src/boxoffice").rglob("*")
        if p.is_file() and p.name != ".keep" and "__pycache__" not in p.parts
    }
    assert sources - packaged == set(), "files the installed package would lack"
