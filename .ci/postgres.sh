#!/usr/bin/env bash
# CI: a throwaway PostgreSQL cluster for the second run of the test suite. Installs Debian's
# postgresql if it is missing, starts a cluster in a temporary folder (no fsync: nothing here
# is worth keeping) and prints its URL on standard output; everything else goes to stderr.
set -euo pipefail

if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    command -v apt-get >/dev/null || { echo ".ci/postgres.sh: no apt-get: not Debian" >&2; exit 1; }
    export DEBIAN_FRONTEND=noninteractive
    { apt-get update -q && apt-get install -y -q --no-install-recommends postgresql; } >&2
fi
bin=$(dirname "$(ls -d /usr/lib/postgresql/*/bin/initdb | sort -V | tail -n 1)")
data=$(mktemp -d /tmp/saldo-ci-pg.XXXXXX)
# A port nobody uses (a cluster left over from an earlier run may hold another).
port=${SALDO_CI_PG_PORT:-$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
run_as=()
if [ "$(id -u)" -eq 0 ]; then  # PostgreSQL refuses to run as root
    chown postgres "$data"
    run_as=(runuser -u postgres --)
fi
"${run_as[@]}" "$bin/initdb" -D "$data" -A trust -U saldo >&2
"${run_as[@]}" "$bin/pg_ctl" -D "$data" -l "$data/log" -w start \
    -o "-p $port -k /tmp -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" >&2
echo "postgresql://saldo@127.0.0.1:$port/postgres"
