# Sourced by the shell-driven suites (tests/compat/run.sh, tests/openapi/run.sh): a temporary data directory,
# the CLI on it, a server on a free loopback port and its URL, and a clean-up trap that stops the server
# (TERM, then KILL after 5 s), prints the tail of its log when the suite failed, and removes the directory.
# Needs BIN (the tank-registry binary) to be set before `server_workdir`.

# server_workdir NAME: makes the directory and installs the traps; sets WORK, DATA and LOG.
server_workdir() {
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/tank-$1.XXXXXX")
    DATA="$WORK/data"
    LOG="$WORK/server.log"
    SERVER_PID=""
    trap server_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}

server_cleanup() {
    local rc=$?
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        for _ in $(seq 1 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    if [ "$rc" -ne 0 ] && [ -f "$LOG" ]; then
        echo "---- server log (last 40 lines) ----" >&2
        tail -n 40 "$LOG" >&2 || true
    fi
    rm -rf "$WORK"
    exit "$rc"
}

cli() { "$BIN" --data-dir "$DATA" "$@"; }

# server_start NAME [SERVE FLAGS…]: starts `serve` on 127.0.0.1:0 and waits for its URL; sets SERVER_PID and URL.
server_start() {
    local name=$1
    shift
    NO_COLOR=1 TANK_LOG=info "$BIN" --data-dir "$DATA" serve --listen 127.0.0.1:0 "$@" 2>"$LOG" &
    SERVER_PID=$!
    URL=""
    for _ in $(seq 1 200); do
        if ! kill -0 "$SERVER_PID" 2>/dev/null; then
            echo "error: the server exited during start-up" >&2
            exit 1
        fi
        # `listening on 127.0.0.1:PORT (public URL http://127.0.0.1:PORT)`; strip ANSI colour codes first.
        URL=$(sed -e 's/\x1b\[[0-9;]*m//g' "$LOG" | sed -n 's/.*listening on [^ ]* (public URL \(http[^) ]*\)).*/\1/p' | head -n 1)
        [ -n "$URL" ] && break
        sleep 0.05
    done
    [ -n "$URL" ] || { echo "error: no 'listening on' line from the server" >&2; exit 1; }
    echo "== $name: server at $URL (pid $SERVER_PID)"
}
