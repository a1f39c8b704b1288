#!/usr/bin/env bash
# Real-browser test of the CLI-login consent flow: headless Debian Chromium driven over WebDriver
# (chromedriver), against the binary in TANK_TEST_BIN, or the release binary (built here) when that is
# unset. Installs chromium and chromium-driver with apt when they are missing (CI runs as root). Saves
# screenshots to target/browser-screenshots/ (docs/screenshots/ holds the committed copies).
set -euo pipefail
cd "$(dirname "$0")/../.."

if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    echo "installing chromium and chromium-driver"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
  else
    echo "error: chromium and chromium-driver are required (apt-get install chromium chromium-driver)" >&2
    exit 1
  fi
fi

BIN="${TANK_TEST_BIN:-}"
if [ -z "$BIN" ]; then
  cargo build --release --quiet
  BIN="${CARGO_TARGET_DIR:-$PWD/target}/release/tank-registry"
fi
WORK="$(mktemp -d)"
SHOTS="$PWD/target/browser-screenshots"
mkdir -p "$SHOTS"
cleanup() {
  [ -n "${SERVER_PID:-}" ] && kill "$SERVER_PID" 2>/dev/null || true
  [ -n "${DRIVER_PID:-}" ] && kill "$DRIVER_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

DATA="$WORK/data"
printf 'correct horse battery\n' | "$BIN" --data-dir "$DATA" user create alice --email alice@example.com \
  --display-name "Alice Doe" --password-stdin >/dev/null
"$BIN" --data-dir "$DATA" org create acme --owner alice >/dev/null

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PORT=$(free_port)
"$BIN" --data-dir "$DATA" serve --listen "127.0.0.1:$PORT" --rate-limit off 2>"$WORK/server.log" &
SERVER_PID=$!
DPORT=$(free_port)
chromedriver --port="$DPORT" >"$WORK/driver.log" 2>&1 &
DRIVER_PID=$!
for _ in $(seq 1 100); do
  if curl -fs "http://127.0.0.1:$PORT/api/health" >/dev/null && curl -fs "http://127.0.0.1:$DPORT/status" >/dev/null; then
    break
  fi
  sleep 0.1
done

python3 tests/browser/consent_test.py "http://127.0.0.1:$PORT" "http://127.0.0.1:$DPORT" "$SHOTS"
