# Sourced by scripts/run and scripts/test: the project's virtualenv, installed only when needed.
# shellcheck shell=bash

step() { printf '\n==> %s\n' "$*"; }
note() { printf '    %s\n' "$*"; }
die() { printf '\nerror: %s\n' "$*" >&2; exit 1; }

# Every dependency comes from a lock file, pinned with hashes (see "Dependencies" in the README):
# requirements/runtime.txt for `./scripts/run`, requirements/dev.txt (runtime + dev extra, same
# versions) for `./scripts/test`. The project itself goes in editable, without dependencies.
lock_file() { if [ -n "$1" ]; then echo "requirements/$1.txt"; else echo requirements/runtime.txt; fi; }

# The stamp records what pyproject.toml and the locks looked like at the last successful install,
# so a second run skips pip entirely and a changed lock (a new or re-pinned dependency) reinstalls.
deps_hash() { cat pyproject.toml requirements/runtime.txt requirements/dev.txt | sha256sum | cut -d' ' -f1; }

# ensure_venv "" | ensure_venv dev
ensure_venv() {
    local extra="$1" stamp_dev=.venv/.boxoffice-installed-dev
    local stamp_base=.venv/.boxoffice-installed-base hash lock
    lock=$(lock_file "$extra")
    [ -f "$lock" ] || die "$lock is missing (see \"Dependencies\" in README.md)"
    if [ ! -x .venv/bin/python ]; then
        command -v python3 >/dev/null || die "python3 (3.11 or newer) is needed; on Debian: apt-get install python3 python3-venv"
        python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
            || die "python3 is $(python3 -V 2>&1 | cut -d' ' -f2); boxoffice needs 3.11 or newer"
        note "creating .venv with $(python3 -V)"
        python3 -m venv .venv || die "python3 -m venv failed; on Debian: apt-get install python3-venv"
    fi
    hash=$(deps_hash)
    # An install from the dev lock also satisfies a plain one (it pins the same runtime versions).
    if [ "$(cat "$stamp_dev" 2>/dev/null)" = "$hash" ] \
        || { [ -z "$extra" ] && [ "$(cat "$stamp_base" 2>/dev/null)" = "$hash" ]; }; then
        note ".venv is up to date with $lock"
        return 0
    fi
    local why="first install"
    if [ -f "$stamp_dev" ] || [ -f "$stamp_base" ]; then
        why="pyproject.toml or the lock files changed since the last install"
    fi
    note "installing into .venv: pip install --require-hashes -r $lock, then boxoffice itself ($why)"
    .venv/bin/python -m pip install --quiet --disable-pip-version-check --require-hashes -r "$lock" \
        || die "pip install --require-hashes -r $lock failed (see above)"
    .venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps -e . \
        || die "pip install --no-deps -e . failed (see above)"
    if [ -n "$extra" ]; then
        echo "$hash" >"$stamp_dev"
    else
        echo "$hash" >"$stamp_base"
    fi
}
