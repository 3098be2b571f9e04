#!/usr/bin/env bash
# An S3-compatible server for the blob-store tests: S3Proxy (Apache-2.0, org.gaul:s3proxy from
# Maven Central) with its filesystem backend, on 127.0.0.1, a free port, data in STATE_DIR.
# Why S3Proxy: one 55 MB jar fetched by Maven in seconds, up in ~2 s on Java 17, one port.
# SeaweedFS was measured too: `go build` of weed took ~8 min and 2.1 GB of modules on 2 cores.
# Install (cached in ${MAIRUST_CACHE_DIR:-~/.cache/mairust}/s3proxy): Maven copies the pinned
# jar (checksum checked) out of the cache's own repository. Needs Java 17+: $MAIRUST_S3_JAVA_HOME,
# else `java` on PATH, else a JDK in /usr/lib/jvm.
#   start  STATE_DIR  install if missing, start with EMPTY data, wait until it answers; prints
#                     MAIRUST_TEST_S3_URL='s3://mairust-test?endpoint=http://127.0.0.1:PORT&region=us-east-1'
#                     AWS_ACCESS_KEY_ID=...  AWS_SECRET_ACCESS_KEY=...   (stdout; creates no bucket)
#   stop   STATE_DIR  stop the server (SIGKILL after 10 s)
#   pause  STATE_DIR  stop the server, keeping its port, credentials and data (fault tests)
#   resume STATE_DIR  start it again on the same port with the same data, wait until it answers
# Logs go to stderr and STATE_DIR/server.log.
set -euo pipefail
action=${1:?usage: $0 start|stop|pause|resume STATE_DIR}
STATE=${2:?usage: $0 start|stop|pause|resume STATE_DIR}
VERSION=4.1.0
JAR_SHA256=a4d025969aaf796616ed4b1e2491d87d455ce84bb28cb9db086b2e6aaa68b48d
CACHE="${MAIRUST_CACHE_DIR:-$HOME/.cache/mairust}/s3proxy"
JAR="$CACHE/s3proxy-$VERSION.jar"
BUCKET=mairust-test
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"

log() { echo "s3: $*" >&2; }

java_major() { "$1" -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1; }

find_java() {  # a java of version 17 or newer
  local candidate major
  for candidate in "${MAIRUST_S3_JAVA_HOME:+$MAIRUST_S3_JAVA_HOME/bin/java}" \
      "$(command -v java || true)" $(ls -d /usr/lib/jvm/*/bin/java 2>/dev/null | sort -rV); do
    [ -n "$candidate" ] && [ -x "$candidate" ] || continue
    major=$(java_major "$candidate")
    if [ -n "$major" ] && [ "$major" -ge 17 ]; then echo "$candidate"; return 0; fi
  done
  return 1
}

installed() { [ -f "$JAR" ] && echo "$JAR_SHA256  $JAR" | sha256sum -c --status; }

install() {
  local work
  command -v mvn >/dev/null || {
    log "installing Debian's maven"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get install -y -q --no-install-recommends maven >&2 \
      || { $SUDO apt-get update -q >&2 && $SUDO apt-get install -y -q --no-install-recommends maven >&2; }
  }
  log "installing s3proxy $VERSION into $CACHE (first time only)"
  work=$(mktemp -d "$CACHE/install.XXXXXX")
  # --strict-checksums: a damaged download fails here instead of at start.
  mvn -q -B --strict-checksums -Dstyle.color=never --no-transfer-progress \
    -Dmaven.repo.local="$CACHE/m2" \
    org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy \
    -Dartifact="org.gaul:s3proxy:$VERSION:jar:jar-with-dependencies" \
    -DoutputDirectory="$work" >&2
  echo "$JAR_SHA256  $work/s3proxy-$VERSION-jar-with-dependencies.jar" | sha256sum -c --status \
    || { log "s3proxy $VERSION jar does not have the pinned sha256"; rm -rf "$work"; return 1; }
  mv "$work/s3proxy-$VERSION-jar-with-dependencies.jar" "$JAR"
  rm -rf "$work" "$CACHE/m2/org/gaul"  # the jar's second copy; Maven's plugins stay cached
}

install_if_missing() {
  mkdir -p "$CACHE"
  exec 9> "$CACHE/.install.lock"  # two test runs starting at once install once
  flock 9
  installed || install
  flock -u 9
  exec 9>&-
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

pid_of() { [ -f "$STATE/pid" ] && cat "$STATE/pid"; }

running() { local pid; pid=$(pid_of) && kill -0 "$pid" 2>/dev/null; }

stop_server() {
  local pid
  running || { rm -f "$STATE/pid"; return 0; }
  pid=$(pid_of)
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || { rm -f "$STATE/pid"; return 0; }
    sleep 0.1
  done
  log "server $pid did not stop in 10 s: killing it"
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$STATE/pid"
}

write_config() {  # a new port and secret (start); resume reuses the file
  local port secret
  port=$(free_port)
  secret=$(python3 -c 'import secrets; print(secrets.token_hex(16))')
  cat > "$STATE/s3proxy.conf" <<EOF
s3proxy.endpoint=http://127.0.0.1:$port
s3proxy.authorization=aws-v2-or-v4
s3proxy.identity=mairust-test
s3proxy.credential=$secret
jclouds.provider=filesystem
jclouds.filesystem.basedir=$STATE/data
EOF
}

conf() { sed -n "s/^$1=//p" "$STATE/s3proxy.conf"; }

run_server() {  # start on the configured port and wait until it answers HTTP
  local java=$1 endpoint pid
  endpoint=$(conf s3proxy.endpoint)
  mkdir -p "$STATE/data" "$STATE/tmp"
  # setsid: the server outlives this script, apart from its process group.
  setsid "$java" -Xmx512m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.io.tmpdir="$STATE/tmp" \
    -jar "$JAR" --properties "$STATE/s3proxy.conf" < /dev/null >> "$STATE/server.log" 2>&1 &
  pid=$!
  echo "$pid" > "$STATE/pid"
  for _ in $(seq 1 600); do  # 60 s: a cold JVM on a busy 2-core machine is slow
    if ! kill -0 "$pid" 2>/dev/null; then
      log "the server exited during start; last lines of $STATE/server.log:"
      tail -40 "$STATE/server.log" >&2 || true
      rm -f "$STATE/pid"
      return 1
    fi
    # Any HTTP answer (403 for an unsigned request) means it serves S3.
    [ "$(curl -s -o /dev/null -w '%{http_code}' "$endpoint/" || true)" != 000 ] && return 0
    sleep 0.1
  done
  log "the server did not answer in 60 s; last lines of $STATE/server.log:"
  tail -40 "$STATE/server.log" >&2 || true
  stop_server
  return 1
}

case "$action" in
  start)
    command -v curl >/dev/null || { log "curl is needed to see the server answer"; exit 1; }
    java=$(find_java) || { log "no Java 17 or newer found (set MAIRUST_S3_JAVA_HOME)"; exit 1; }
    began=$(date +%s%N)
    install_if_missing
    mkdir -p "$STATE"
    stop_server
    rm -rf "$STATE/data" "$STATE/tmp" "$STATE/server.log"
    write_config
    run_server "$java"
    log "ready at $(conf s3proxy.endpoint) after $(( ($(date +%s%N) - began) / 1000000 )) ms (data in $STATE/data)"
    # Quoted: .ci/with-services.sh sources these lines, and a bare & would end the command.
    echo "MAIRUST_TEST_S3_URL='s3://$BUCKET?endpoint=$(conf s3proxy.endpoint)&region=us-east-1'"
    echo "AWS_ACCESS_KEY_ID=$(conf s3proxy.identity)"
    echo "AWS_SECRET_ACCESS_KEY=$(conf s3proxy.credential)"
    ;;
  stop | pause)
    stop_server
    ;;
  resume)
    [ -f "$STATE/s3proxy.conf" ] || { log "nothing to resume in $STATE (never started)"; exit 1; }
    running && exit 0
    java=$(find_java) || { log "no Java 17 or newer found (set MAIRUST_S3_JAVA_HOME)"; exit 1; }
    run_server "$java"
    ;;
  *) echo "usage: $0 start|stop|pause|resume STATE_DIR" >&2; exit 2 ;;
esac
