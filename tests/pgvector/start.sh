#!/usr/bin/env bash
# A Postgres with the pgvector extension for the cutover suite (the original Supabase schema needs the
# `vector` type; Debian's Postgres on :5432 has no pgvector). It comes from PyPI's `pgserver` wheel,
# which bundles Postgres 16.2 and pgvector 0.6.2 as plain binaries: the wheel is downloaded once
# (sha256-pinned), unpacked under $HOME/.cache/amakaflow-chat/pgvector, initdb'd once (trust auth,
# superuser `postgres`) and started on 127.0.0.1:PORT. Idempotent: a running server is left alone.
#
# Usage: tests/pgvector/start.sh [PORT]      (default 54329; the Makefile passes PGVECTOR_PORT)
set -euo pipefail

port="${1:-54329}"
wheel_version=0.1.4
wheel=pgserver-${wheel_version}-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl
wheel_sha256=d595789b47624a3d963aa9aa6359da9be31beb7e61f1a45541953242068b8813
base="$HOME/.cache/amakaflow-chat/pgvector"
install="$base/pgserver-$wheel_version"
bin="$install/pgserver/pginstall/bin"
data="$base/data-$port"

fail() { echo "pgvector: $*" >&2; exit 1; }

# Postgres refuses to run as root. As root (CI, the development machines) the server runs in a user
# namespace where it is uid 1000; outside, its files stay root's, under root's own $HOME.
run() {
    if [ "$(id -u)" -eq 0 ]; then
        unshare --user --map-user=1000 --map-group=1000 "$@"
    else
        "$@"
    fi
}

if [ -x "$bin/pg_isready" ] && "$bin/pg_isready" -h 127.0.0.1 -p "$port" -q; then
    exit 0
fi

if [ ! -x "$bin/postgres" ]; then
    mkdir -p "$base/wheels"
    if [ ! -f "$base/wheels/$wheel" ]; then
        python3 -m pip download --quiet --no-deps --only-binary=:all: --platform manylinux2014_x86_64 \
            --python-version 3.11 --implementation cp "pgserver==$wheel_version" -d "$base/wheels" \
            || fail "could not download pgserver==$wheel_version from PyPI (python3 -m pip download)"
    fi
    echo "$wheel_sha256  $base/wheels/$wheel" | sha256sum -c --quiet - \
        || fail "$base/wheels/$wheel does not have the pinned sha256; delete it and retry"
    rm -rf "$install.tmp"
    python3 -m zipfile -e "$base/wheels/$wheel" "$install.tmp"
    chmod +x "$install.tmp/pgserver/pginstall/bin/"*
    [ -f "$install.tmp/pgserver/pginstall/lib/postgresql/vector.so" ] || fail "the wheel has no pgvector (vector.so)"
    rm -rf "$install"
    mv "$install.tmp" "$install"
fi

if [ ! -f "$data/PG_VERSION" ]; then
    rm -rf "$data"
    mkdir -p "$data"
    run "$bin/initdb" -D "$data" -U postgres --auth=trust --encoding=UTF8 --locale=C >"$base/initdb-$port.log" 2>&1 \
        || fail "initdb failed: see $base/initdb-$port.log"
fi

# Many test binaries open pools at once; the socket lives in the data directory (/run may be root's).
run "$bin/pg_ctl" -D "$data" -l "$base/server-$port.log" -w -t 60 start \
    -o "-p $port -c listen_addresses=127.0.0.1 -k $data -c max_connections=300 -c shared_buffers=128MB -c fsync=off" \
    >/dev/null || fail "the server did not start: see $base/server-$port.log"
"$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -tAc \
    "SELECT 1 FROM pg_available_extensions WHERE name = 'vector'" | grep -q 1 \
    || fail "the server on :$port has no vector extension"
echo "pgvector: Postgres $("$bin/postgres" --version | awk '{print $3}') with pgvector on 127.0.0.1:$port"
