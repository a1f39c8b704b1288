#!/usr/bin/env bash
# The project's test command: the Rust test suite (unit + black-box HTTP tests + crash test), then against the
# release binary: the crash test again, the official Python client compatibility test, SARIF schema validation
# of `scan --format sarif`, and the headless-Chromium consent test. Installs what it needs itself (Python venvs
# under target/, the SARIF schema with npm, chromium with apt when missing and run as root), so a fresh checkout
# only needs cargo, python3 and npm.
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET="${CARGO_TARGET_DIR:-$PWD/target}"

cargo test --all-targets
cargo build --release
echo "== crash test against the release binary"
TANK_CRASH_BIN="$TARGET/release/tank-registry" cargo test --test crash
echo "== storm (short) against the release binary"
TANK_STORM_BIN="$TARGET/release/tank-registry" cargo test --test storm -- --nocapture
TANK_EPHEMERAL_BIN="$TARGET/release/tank-registry" cargo test --test ephemeral
bash tests/compat/run.sh
bash tests/sarif/run.sh
bash tests/openapi/run.sh
if [ -f tests/browser/run.sh ]; then
  bash tests/browser/run.sh
fi
