#!/usr/bin/env bash
# The project's test command: the Rust test suite (unit + black-box HTTP tests), then the compatibility
# tests that drive the official Python client against the release binary. Installs what it needs itself
# (a Python venv with tank-sdk under target/), so a fresh checkout only needs cargo and python3.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo test --all-targets
bash tests/compat/run.sh
