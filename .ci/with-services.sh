#!/usr/bin/env bash
# Run a command with the test servers up and their addresses in the environment;
# the servers are stopped afterwards whatever the command's outcome.
#   usage: .ci/with-services.sh COMMAND [ARGS...]
set -uo pipefail
cd "$(dirname "$0")/.."
STATE=${MAIRUST_SERVICES_DIR:-/tmp/mairust-services}
# shellcheck source=phase.sh
. .ci/phase.sh
stop_services() { bash .ci/services.sh stop "$STATE" >/dev/null 2>&1; }
trap 'phase "services stop" stop_services' EXIT
# Starting includes installing what is missing (a fresh machine downloads the servers).
phase "services start" bash .ci/services.sh start "$STATE" || exit 1
set -a
# shellcheck disable=SC1091
. "$STATE/services.env"
set +a
"$@"
