#!/usr/bin/env bash
# Builds the KubeRay manifest validator (cluster/deploy/validate): a small Go module that
# decodes cluster/deploy/kuberay/*.yaml strictly into KubeRay's own API types (the
# ray-operator module at the version go.mod pins). With --test it also checks gofmt and
# runs `go vet`. Caches as .ci/build-go-plugins.sh keeps them, under
# ${XDG_CACHE_HOME:-$HOME/.cache}/mairust-build, outside the clone: a second run is a few
# cache hits. Prints the binary's path (the last line of stdout); the deploy-manifest tests
# call this script themselves, and `make go-plugins` (via build-go-plugins.sh --test)
# builds it before pytest starts.
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

cd "$ROOT/cluster/deploy/validate"
BINARY=$GOBIN/mairust-deploy-validate
"$GO" build -trimpath -o "$BINARY" . >&2
if [ "$RUN_TESTS" -eq 1 ]; then
  unformatted=$("$(dirname "$GO")/gofmt" -l ./*.go)
  if [ -n "$unformatted" ]; then
    echo "build-go-deploy-validator: not gofmt-formatted: $unformatted" >&2
    exit 1
  fi
  "$GO" vet ./... >&2
fi
echo "$BINARY"
