#!/usr/bin/env bash
# PostgreSQL for the metadata-store tests: a FRESH cluster in STATE_DIR on 127.0.0.1, a free
# port, durable settings (fsync, synchronous_commit), a password role and database
# `mairust_test`. Installs Debian's `postgresql` only when it is missing.
#   start  STATE_DIR  init + start; prints MAIRUST_TEST_POSTGRES_URL=postgresql://... (stdout)
#   stop   STATE_DIR  stop the server (pg_ctl stop -m fast)
#   pause  STATE_DIR  stop the server, keeping its data dir and port (fault tests)
#   resume STATE_DIR  start it again on the same port and data dir
# Logs go to stderr and STATE_DIR/server.log.
set -euo pipefail
action=${1:?usage: $0 start|stop|pause|resume STATE_DIR}
STATE=${2:?usage: $0 start|stop|pause|resume STATE_DIR}
DATA="$STATE/data"
ROLE=mairust_test
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"

log() { echo "postgres: $*" >&2; }

pg_bindir() {  # the newest installed server's programs
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  [ -n "$dir" ] && [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ] && echo "$dir"
}

install_if_missing() {
  pg_bindir >/dev/null && return 0
  log "installing Debian's postgresql"
  export DEBIAN_FRONTEND=noninteractive
  # The package would create and start a 'main' cluster on port 5432; we need none.
  $SUDO mkdir -p /etc/postgresql-common/createcluster.d
  echo "create_main_cluster = false" | $SUDO tee /etc/postgresql-common/createcluster.d/mairust.conf >/dev/null
  if ! $SUDO apt-get install -y -q postgresql >&2; then
    $SUDO apt-get update -q >&2  # a stale or empty package list: refresh once, then retry
    $SUDO apt-get install -y -q postgresql >&2
  fi
  pg_bindir >/dev/null || { log "postgresql installed but no server found"; exit 1; }
}

# PostgreSQL refuses to run as root: as root, run its programs as the `postgres` user.
as_server_user() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_ctl_() { as_server_user "$(pg_bindir)/pg_ctl" -D "$DATA" "$@"; }

running() { [ -f "$DATA/postmaster.pid" ] && pg_ctl_ status >/dev/null 2>&1; }

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start_server() {  # pg_ctl -w waits until it accepts connections; pg_isready double-checks
  local port=$1
  if ! pg_ctl_ start -w -t 60 -l "$STATE/server.log" >&2; then
    tail -20 "$STATE/server.log" >&2 || true
    return 1
  fi
  for _ in $(seq 1 100); do
    pg_isready -q -h 127.0.0.1 -p "$port" && return 0
    sleep 0.1
  done
  log "server on port $port does not answer"; return 1
}

init_cluster() {
  local port=$1
  rm -rf "$DATA"
  mkdir -p "$DATA"
  if [ "$(id -u)" -eq 0 ]; then chown -R postgres: "$STATE"; fi
  chmod 700 "$DATA"
  as_server_user test -w "$DATA" || {
    log "the postgres user cannot reach $DATA: make its parent directories searchable (chmod o+x)"
    exit 1
  }
  # --no-sync: syncing a throwaway, just-created cluster buys nothing; the server runs with fsync.
  as_server_user "$(pg_bindir)/initdb" -D "$DATA" -U postgres --no-locale -E UTF8 \
    --auth-local=trust --auth-host=scram-sha-256 --no-sync >&2
  cat >> "$DATA/postgresql.conf" <<EOF
# MaiRust test service
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$STATE'
fsync = on
synchronous_commit = on
full_page_writes = on
max_connections = 300
EOF
}

case "$action" in
  start)
    install_if_missing
    mkdir -p "$STATE"
    if running; then pg_ctl_ stop -m fast >&2; fi
    started=""
    for _ in 1 2 3; do  # another program may take the free port before the server binds it
      port=$(free_port)
      init_cluster "$port"
      if start_server "$port"; then started=$port; break; fi
      log "start on port $port failed; trying another port"
    done
    [ -n "$started" ] || { log "could not start PostgreSQL"; exit 1; }
    password=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
    # CREATEDB: each test gets a database of its own, cloned from a migrated template.
    as_server_user psql -q -v ON_ERROR_STOP=1 -h "$STATE" -p "$started" -U postgres -d postgres >&2 <<EOF
CREATE ROLE $ROLE LOGIN CREATEDB PASSWORD '$password';
CREATE DATABASE $ROLE OWNER $ROLE;
EOF
    echo "$started" > "$STATE/port"
    log "ready on 127.0.0.1:$started (data in $DATA)"
    echo "MAIRUST_TEST_POSTGRES_URL=postgresql://$ROLE:$password@127.0.0.1:$started/$ROLE"
    ;;
  stop | pause)
    if pg_bindir >/dev/null && running; then pg_ctl_ stop -m fast >&2; fi
    ;;
  resume)
    [ -f "$STATE/port" ] || { log "nothing to resume in $STATE"; exit 1; }
    running || start_server "$(cat "$STATE/port")"
    ;;
  *) echo "usage: $0 start|stop|pause|resume STATE_DIR" >&2; exit 2 ;;
esac
