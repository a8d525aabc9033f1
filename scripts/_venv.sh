# Sourced by scripts/run and scripts/test: the project's virtualenv, installed only when needed.
# shellcheck shell=bash

step() { printf '\n==> %s\n' "$*"; }
note() { printf '    %s\n' "$*"; }
die() { printf '\nerror: %s\n' "$*" >&2; exit 1; }

# The stamp records what pyproject.toml looked like at the last successful install, so a second
# run skips pip entirely and a changed pyproject.toml (a new or re-pinned dependency) reinstalls.
pyproject_hash() { sha256sum pyproject.toml | cut -d' ' -f1; }

# ensure_venv "" | ensure_venv dev
ensure_venv() {
    local extra="$1" target stamp_dev=.venv/.boxoffice-installed-dev
    local stamp_base=.venv/.boxoffice-installed-base hash
    target="."
    [ -n "$extra" ] && target=".[$extra]"
    if [ ! -x .venv/bin/python ]; then
        command -v python3 >/dev/null || die "python3 (3.11 or newer) is needed; on Debian: apt-get install python3 python3-venv"
        python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
            || die "python3 is $(python3 -V 2>&1 | cut -d' ' -f2); boxoffice needs 3.11 or newer"
        note "creating .venv with $(python3 -V)"
        python3 -m venv .venv || die "python3 -m venv failed; on Debian: apt-get install python3-venv"
    fi
    hash=$(pyproject_hash)
    # An install with the dev extra also satisfies a plain one.
    if [ "$(cat "$stamp_dev" 2>/dev/null)" = "$hash" ] \
        || { [ -z "$extra" ] && [ "$(cat "$stamp_base" 2>/dev/null)" = "$hash" ]; }; then
        note ".venv is up to date with pyproject.toml"
        return 0
    fi
    local why="first install"
    if [ -f "$stamp_dev" ] || [ -f "$stamp_base" ]; then
        why="pyproject.toml changed since the last install"
    fi
    note "installing boxoffice into .venv: pip install -e '$target' ($why)"
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -e "$target" \
        || die "pip install -e '$target' failed (see above)"
    if [ -n "$extra" ]; then
        echo "$hash" >"$stamp_dev"
    else
        echo "$hash" >"$stamp_base"
    fi
}
