#!/usr/bin/env bash
# Builds the two checkers of cluster/deploy/ (each a small Go module of its own, so each
# builds against the versions its upstream does): validate/kuberay decodes the KubeRay
# manifests strictly into KubeRay's own API types (the ray-operator module go.mod pins),
# validate/promql parses the Grafana dashboard's queries with Prometheus's PromQL parser.
# With --test it also checks gofmt and runs `go vet`. Caches as .ci/build-go-plugins.sh
# keeps them, under ${XDG_CACHE_HOME:-$HOME/.cache}/mairust-build, outside the clone: a
# second run is a few cache hits. Prints the two binaries' paths (the last two lines of
# stdout: the KubeRay validator, then the PromQL checker); the deploy tests call this
# script themselves, and `make go-plugins` (via build-go-plugins.sh --test) builds them
# before pytest starts.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
RUN_TESTS=0
[ "${1:-}" = "--test" ] && RUN_TESTS=1

CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/mairust-build
export GOPATH=$CACHE/go GOMODCACHE=$CACHE/go/pkg/mod GOCACHE=$CACHE/go-build GOBIN=$CACHE/bin
# Never download a toolchain; modules only from the module proxy, checked against go.sum.
export GOTOOLCHAIN=local GOFLAGS="-mod=readonly -modcacherw" CGO_ENABLED=0
GO=$(command -v go || echo /usr/local/go/bin/go)
if ! [ -x "$GO" ] && ! command -v "$GO" >/dev/null; then
  echo "build-go-deploy-validator: no Go toolchain (go) on PATH or in /usr/local/go" >&2
  exit 1
fi
mkdir -p "$GOBIN"

build() { # build MODULE_DIR BINARY_NAME: prints the binary's path
  local binary=$GOBIN/$2
  (
    cd "$ROOT/cluster/deploy/validate/$1"
    "$GO" build -trimpath -o "$binary" . >&2
    if [ "$RUN_TESTS" -eq 1 ]; then
      unformatted=$("$(dirname "$GO")/gofmt" -l ./*.go)
      if [ -n "$unformatted" ]; then
        echo "build-go-deploy-validator: not gofmt-formatted: $1/$unformatted" >&2
        exit 1
      fi
      "$GO" vet ./... >&2
    fi
  )
  echo "$binary"
}
build kuberay mairust-kuberay-validate
build promql mairust-promql-check
