#!/usr/bin/env bash
# Compatibility test: the official Python client (tank-sdk 0.16.2) against the binary in TANK_TEST_BIN, or
# the release binary (built here) when that is unset.
#
# Prepares a venv under target/compat-venv (reused when tank-sdk 0.16.2 and pytest
# are already installed), starts the server on a free loopback port with a temporary data directory, creates
# users, an org and tokens with the CLI, and runs pytest on tests/compat/test_python_sdk.py.
# Needs only cargo, python3 (3.11+, with venv/ensurepip) and access to PyPI. Stops the server on exit.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD

SDK_VERSION=0.16.2
VENV="$ROOT/target/compat-venv"
PY="$VENV/bin/python"
BIN="${TANK_TEST_BIN:-}"
if [ -z "$BIN" ]; then
  echo "== compat: cargo build --release"
  cargo build --release
  BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/tank-registry"
fi
echo "== compat: testing $BIN"

# --- venv ------------------------------------------------------------------------------------------------
venv_ready() {
    [ -x "$PY" ] && "$PY" - "$SDK_VERSION" <<'PYEOF' 2>/dev/null
import sys
from importlib import metadata
try:
    ok = metadata.version("tank-sdk") == sys.argv[1] and bool(metadata.version("pytest"))
    import httpx, pytest, tankpkg  # noqa: F401  (importable, not just registered)
except Exception:
    ok = False
sys.exit(0 if ok else 1)
PYEOF
}
if venv_ready; then
    echo "== compat: reusing $VENV (tank-sdk $SDK_VERSION)"
else
    echo "== compat: preparing $VENV"
    PIP=("$PY" -m pip)
    if [ ! -x "$PY" ] || ! "$PY" -m pip --version >/dev/null 2>&1; then
        rm -rf "$VENV"
        if ! python3 -m venv "$VENV"; then
            # No ensurepip (e.g. Debian without python3-venv): a bare venv, filled by the system pip.
            rm -rf "$VENV"
            python3 -m venv --without-pip "$VENV"
            PIP=(python3 -m pip --python "$PY")
        fi
    fi
    "${PIP[@]}" install --quiet --disable-pip-version-check "tank-sdk==$SDK_VERSION" pytest
    venv_ready || { echo "error: tank-sdk $SDK_VERSION / pytest not usable in $VENV" >&2; exit 1; }
fi

# --- server ----------------------------------------------------------------------------------------------
source "$ROOT/tests/server.sh"
server_workdir compat

# Users, org and tokens are created before the server starts (the CLI is also safe while it runs).
cli user create alice --email alice@example.com --display-name "Alice Doe" >/dev/null
cli user create bob --email bob@example.com >/dev/null
cli org create acme --owner alice >/dev/null
ALICE_TOKEN=$(cli token create --user alice)
BOB_TOKEN=$(cli token create --user bob)
READ_TOKEN=$(cli token create --user alice --scopes skills:read --label compat-read)
case "$ALICE_TOKEN$BOB_TOKEN$READ_TOKEN" in *[!A-Za-z0-9_]*) echo "error: unexpected token output" >&2; exit 1;; esac

server_start compat

# --- tests -----------------------------------------------------------------------------------------------
export TANK_COMPAT_URL="$URL"
export TANK_COMPAT_TOKEN="$ALICE_TOKEN"
export TANK_COMPAT_OUTSIDER_TOKEN="$BOB_TOKEN"
export TANK_COMPAT_READ_TOKEN="$READ_TOKEN"
export TANK_COMPAT_ORG=acme
export TANK_COMPAT_USER=alice
# Keep the SDK away from any user configuration on the machine (the test also passes an empty config_dir).
unset TANK_TOKEN TANK_REGISTRY_URL || true
export PYTHONDONTWRITEBYTECODE=1

echo "== compat: pytest tests/compat/test_python_sdk.py"
set +e
"$PY" -m pytest -q -p no:cacheprovider "$ROOT/tests/compat/test_python_sdk.py"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
    echo "error: pytest collected no tests" >&2
fi
exit "$rc"
