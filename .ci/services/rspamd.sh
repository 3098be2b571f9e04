#!/usr/bin/env bash
# Rspamd for the rspamd plugin's tests: Debian's `rspamd` package (installed only when missing;
# its system service is never started), run as a private instance: its own top-level config,
# local.d and state under STATE_DIR, one scanner worker on 127.0.0.1 and a free port, no
# Redis. Everything that reaches the network is off (DNS and URL blocklists, fuzzy hashes,
# SPF/DKIM/DMARC/ARC, ASN, HELO/host checks, update maps) and its resolver points at a closed
# loopback port, so a scan is offline and gives the same score every time. Two local rules
# make its verdicts testable: a body containing MAIRUST-TEST-SPAM scores 100 (reject) and one
# containing MAIRUST-TEST-SUSPECT scores 8 (add header). GTUBE rejects too (Rspamd's own).
#   start  STATE_DIR  install if missing, write the config, start, wait until /ping answers;
#                     prints MAIRUST_TEST_RSPAMD_URL=http://127.0.0.1:PORT (stdout)
#   stop   STATE_DIR  stop the instance (SIGKILL after 10 s)
# Logs go to stderr and STATE_DIR/log/rspamd.log.
set -euo pipefail
action=${1:?usage: $0 start|stop STATE_DIR}
STATE=${2:?usage: $0 start|stop STATE_DIR}
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"

log() { echo "rspamd: $*" >&2; }

install_if_missing() {
  command -v rspamd >/dev/null && return 0
  log "installing Debian's rspamd"
  export DEBIAN_FRONTEND=noninteractive
  # The package would start its system service; only the private instance below may run.
  local guard=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    guard=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$guard" >/dev/null
    $SUDO chmod +x "$guard"
  fi
  if ! $SUDO apt-get install -y -q --no-install-recommends rspamd >&2; then
    $SUDO apt-get update -q >&2
    $SUDO apt-get install -y -q --no-install-recommends rspamd >&2
  fi
  [ -z "$guard" ] || $SUDO rm -f "$guard"
  command -v rspamd >/dev/null || { log "rspamd installed but not found"; exit 1; }
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

pid_of() { [ -f "$STATE/run/rspamd.pid" ] && cat "$STATE/run/rspamd.pid"; }

running() { local pid; pid=$(pid_of) && kill -0 "$pid" 2>/dev/null; }

stop_server() {
  local pid
  pid=$(pid_of) || return 0
  kill "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
}

write_config() {  # $1: the scanner's port
  local conf="$STATE/conf" port=$1
  rm -rf "$conf"
  mkdir -p "$conf/local.d" "$conf/maps" "$STATE/db" "$STATE/run" "$STATE/log"
  # The package's rspamd.conf, less its proxy, controller and fuzzy workers and its
  # "localhost" sockets (which would take ::1 too).
  cat > "$STATE/rspamd.conf" <<EOF
.include "\$CONFDIR/common.conf"
options {
    pidfile = "\$RUNDIR/rspamd.pid";
    .include "\$CONFDIR/options.inc"
    .include(try=true; priority=1,duplicate=merge) "\$LOCAL_CONFDIR/local.d/options.inc"
}
logging {
    type = "file";
    filename = "\$LOGDIR/rspamd.log";
    level = "notice";
}
worker "normal" {
    bind_socket = "127.0.0.1:$port";
    .include "\$CONFDIR/worker-normal.inc"
    count = 1;
}
EOF
  cat > "$conf/local.d/options.inc" <<'EOF'
# Offline: a closed loopback port as the only resolver, so a lookup fails at once.
dns {
    nameserver = ["127.0.0.1:9"];
    timeout = 0.2s;
    retransmits = 1;
}
local_addrs = [];
filters = "chartable,regexp";
EOF
  local module
  for module in rbl surbl fuzzy_check spf dkim dmarc arc asn hfilter mx_check phishing \
      rspamd_update url_redirector dcc p0f external_services antivirus emails \
      whitelist reputation neural greylist ratelimit replies bimi milter_headers \
      multimap_remote trie spamtrap clickhouse elastic metadata_exporter \
      history_redis dkim_signing; do
    echo "enabled = false;" > "$conf/local.d/$module.conf"
  done
  rm -f "$conf/local.d/multimap_remote.conf"
  printf '/MAIRUST-TEST-SPAM/\n' > "$conf/maps/spam.map"
  printf '/MAIRUST-TEST-SUSPECT/\n' > "$conf/maps/suspect.map"
  cat > "$conf/local.d/multimap.conf" <<EOF
MAIRUST_TEST_SPAM {
    type = "content";
    filter = "full";
    map = "$conf/maps/spam.map";
    regexp = true;
    score = 100.0;
    description = "the test suite's spam marker";
}
MAIRUST_TEST_SUSPECT {
    type = "content";
    filter = "full";
    map = "$conf/maps/suspect.map";
    regexp = true;
    score = 8.0;
    description = "the test suite's suspect marker";
}
EOF
  if [ "$(id -u)" -eq 0 ]; then chown -R _rspamd:_rspamd "$STATE"; fi
}

start_server() {
  local port=$1 user=()
  [ "$(id -u)" -eq 0 ] && user=(-u _rspamd -g _rspamd)
  rspamd "${user[@]}" -c "$STATE/rspamd.conf" \
    --var "LOCAL_CONFDIR=$STATE/conf" --var "DBDIR=$STATE/db" \
    --var "RUNDIR=$STATE/run" --var "LOGDIR=$STATE/log" >> "$STATE/log/start.log" 2>&1 \
    || { tail -20 "$STATE/log/start.log" >&2; return 1; }
  # (Its output goes to a file: the daemon keeps what it was given open, and a caller
  # reading this script's stderr through a pipe would wait for it forever.)
  for _ in $(seq 1 300); do
    if curl -s --max-time 1 "http://127.0.0.1:$port/ping" 2>/dev/null | grep -q pong; then
      return 0
    fi
    sleep 0.1
  done
  log "no answer on 127.0.0.1:$port/ping"; tail -30 "$STATE/log/rspamd.log" "$STATE/log/start.log" >&2 || true
  stop_server
  return 1
}

case "$action" in
  start)
    install_if_missing
    mkdir -p "$STATE"
    running && stop_server
    started=""
    for _ in 1 2 3; do  # another program may take the free port before rspamd binds it
      port=$(free_port)
      write_config "$port"
      if start_server "$port"; then started=$port; break; fi
      log "start on port $port failed; trying another port"
    done
    [ -n "$started" ] || { log "could not start rspamd"; exit 1; }
    log "ready on 127.0.0.1:$started (state in $STATE)"
    echo "MAIRUST_TEST_RSPAMD_URL=http://127.0.0.1:$started"
    ;;
  stop)
    stop_server
    ;;
  *) echo "usage: $0 start|stop STATE_DIR" >&2; exit 2 ;;
esac
