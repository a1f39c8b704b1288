#!/usr/bin/env bash
# Download throughput, registry vs nginx (issue #6). Installs Debian's nginx when it is missing (as root, with
# apt), then runs the benchmark. Extra arguments go to the bench, e.g. `-- --seconds 10 --clients 8`.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! [ -x /usr/sbin/nginx ]; then
    if [ "$(id -u)" = 0 ]; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nginx-light >/dev/null 2>&1 \
            || DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nginx >/dev/null
    else
        echo "error: nginx is missing; install Debian's nginx package" >&2
        exit 1
    fi
fi
if [ "$#" -gt 0 ] && [ "$1" = "--" ]; then shift; fi
cargo bench --bench download -- "$@"
