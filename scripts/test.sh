#!/usr/bin/env bash
# The project's test command: the Rust test suite (unit + black-box HTTP tests + crash test + short storm), then
# the shell-driven suites against the same debug binary: the official Python client compatibility test, SARIF
# schema validation of `scan --format sarif`, the OpenAPI document and schemathesis run, and the headless-Chromium
# consent test. Installs what it needs itself (Python venvs under target/, schemas with npm, chromium with apt
# when missing and run as root), so a fresh checkout only needs cargo, python3 and npm.
#
# TANK_TEST_RELEASE=1 also builds the release binary, runs the crash test, the short storm and the ephemeral
# tests again against it, and points the shell-driven suites at it (slower: a second, optimised build). CI
# leaves it off to stay well under its time budget; the Rust suite runs the same crash and storm tests on the
# debug binary either way.
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET="${CARGO_TARGET_DIR:-$PWD/target}"

# Benches are type-checked by clippy and only run under `cargo bench`; building them here adds four links.
cargo test --lib --bins --tests
export TANK_TEST_BIN="$TARGET/debug/tank-registry"
if [ "${TANK_TEST_RELEASE:-0}" = 1 ]; then
  cargo build --release
  TANK_TEST_BIN="$TARGET/release/tank-registry"
  echo "== crash test against the release binary"
  TANK_CRASH_BIN="$TANK_TEST_BIN" cargo test --test crash
  echo "== storm (short) against the release binary"
  TANK_STORM_BIN="$TANK_TEST_BIN" cargo test --test storm -- --nocapture
  TANK_EPHEMERAL_BIN="$TANK_TEST_BIN" cargo test --test ephemeral
fi
bash tests/compat/run.sh
bash tests/sarif/run.sh
bash tests/openapi/run.sh
if [ -f tests/browser/run.sh ]; then
  bash tests/browser/run.sh
fi
