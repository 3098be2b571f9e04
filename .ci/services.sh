#!/usr/bin/env bash
# Start (or stop) the real servers the production-storage tests talk to, on loopback:
# PostgreSQL, an S3-compatible server, OpenSearch and Rspamd (the rspamd plugin's scanner). Each .ci/services/NAME.sh installs what
# is missing (cached between runs), starts its server under $STATE/NAME, waits until it
# answers, and prints KEY=VALUE lines; they are collected in $STATE/services.env for pytest.
#   usage: .ci/services.sh start|stop [STATE_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
action=${1:?start or stop}
STATE=${2:-${MAIRUST_SERVICES_DIR:-/tmp/mairust-services}}
mkdir -p "$STATE"
shopt -s nullglob
services=()
for script in .ci/services/*.sh; do services+=("$(basename "$script" .sh)"); done
case "$action" in
  start)
    : > "$STATE/services.env"
    pids=()
    for name in "${services[@]}"; do
      ( bash ".ci/services/$name.sh" start "$STATE/$name" > "$STATE/$name.env" 2> "$STATE/$name.log" ) &
      pids+=($!)
    done
    failed=0
    for i in "${!pids[@]}"; do
      if ! wait "${pids[$i]}"; then
        echo "service ${services[$i]} did not start; its log:" >&2
        tail -40 "$STATE/${services[$i]}.log" >&2
        failed=1
      fi
    done
    for name in "${services[@]}"; do cat "$STATE/$name.env" >> "$STATE/services.env"; done
    [ "$failed" -eq 0 ] || exit 1
    echo "services up: ${services[*]} (environment in $STATE/services.env)"
    ;;
  stop)
    for name in "${services[@]}"; do bash ".ci/services/$name.sh" stop "$STATE/$name" || true; done
    ;;
  *) echo "usage: $0 start|stop [STATE_DIR]" >&2; exit 2 ;;
esac
