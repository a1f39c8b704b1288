#!/usr/bin/env bash
# SARIF test (SPEC §8.7, §9.3): `tank-registry scan --format sarif` output of several packages validates
# against the SARIF 2.1.0 JSON schema.
#
# The schema (sarif-2.1.0-rtm.5.json, OASIS SARIF TC, shipped in Microsoft's MIT-licensed jest-sarif
# package) is fetched with `npm pack` into target/sarif-schema and reused; the validator is Python's
# `jsonschema` in a venv under target/sarif-venv. Uses the binary in TANK_TEST_BIN, or the release binary (built when missing).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
BIN="${TANK_TEST_BIN:-$TARGET/release/tank-registry}"
[ -x "$BIN" ] || cargo build --release

SCHEMA_DIR="$ROOT/target/sarif-schema"
SCHEMA="$SCHEMA_DIR/sarif-2.1.0-rtm.5.json"
if [ ! -s "$SCHEMA" ]; then
    echo "== sarif: fetching the SARIF 2.1.0 schema (npm pack @microsoft/jest-sarif@1.0.0-beta.0)"
    TMP=$(mktemp -d "${TMPDIR:-/tmp}/sarif-schema.XXXXXX")
    (cd "$TMP" && npm pack --silent @microsoft/jest-sarif@1.0.0-beta.0 >/dev/null && tar xzf ./*.tgz)
    mkdir -p "$SCHEMA_DIR"
    cp "$TMP/package/lib/schemas/sarif-2.1.0-rtm.5.json" "$SCHEMA"
    rm -rf "$TMP"
fi

VENV="$ROOT/target/sarif-venv"
PY="$VENV/bin/python"
if ! [ -x "$PY" ] || ! "$PY" -c 'import jsonschema' 2>/dev/null; then
    echo "== sarif: preparing $VENV"
    rm -rf "$VENV"
    python3 -m venv "$VENV"
    "$PY" -m pip install --quiet --disable-pip-version-check 'jsonschema==4.23.0'
fi

echo "== sarif: validating scan output"
"$PY" "$ROOT/tests/sarif/validate_sarif.py" "$BIN" "$SCHEMA" "$ROOT/fixtures/scan"
