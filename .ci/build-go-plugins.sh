#!/usr/bin/env bash
# Builds the Go plugins (plugins/attachment_policy): the gRPC code generated from
# mairust/hooks/proto/mairust_hook_v1.proto (protoc from grpcio-tools, protoc-gen-go and
# protoc-gen-go-grpc installed with `go install tool` at the versions go.mod pins), then
# the binary; and Pebble (an ACME test CA, see below). With --test it checks gofmt and runs
# their `go vet` and `go test` too, and builds the KubeRay manifest validator
# (.ci/build-go-deploy-validator.sh).
# Everything Go keeps (modules, build cache, the generators, the binary) lives under
# ${XDG_CACHE_HOME:-$HOME/.cache}/mairust-build, outside the clone, so a second run is a
# few cache hits. Prints the binary's path (the last line of stdout); the tests' fixtures
# call this script themselves. Needs Go (the version go.mod says) and the venv's Python.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
RUN_TESTS=0
[ "${1:-}" = "--test" ] && RUN_TESTS=1

CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/mairust-build
export GOPATH=$CACHE/go GOMODCACHE=$CACHE/go/pkg/mod GOCACHE=$CACHE/go-build GOBIN=$CACHE/bin
# Never download a toolchain; modules only from the module proxy, checked against go.sum.
export GOTOOLCHAIN=local GOFLAGS="-mod=readonly -modcacherw" CGO_ENABLED=0
PYTHON=${PYTHON:-$ROOT/.venv/bin/python}
case $PYTHON in # a relative path is the clone's (the steps below change directory)
  /*) ;;
  */*) PYTHON=$ROOT/$PYTHON ;;
esac
GO=$(command -v go || echo /usr/local/go/bin/go)
if ! [ -x "$GO" ] && ! command -v "$GO" >/dev/null; then
  echo "build-go-plugins: no Go toolchain (go) on PATH or in /usr/local/go" >&2
  exit 1
fi
mkdir -p "$GOBIN"

PLUGIN=$ROOT/plugins/attachment_policy
PROTO_DIR=$ROOT/mairust/hooks/proto
cd "$PLUGIN"
"$GO" install tool >&2 # protoc-gen-go, protoc-gen-go-grpc (cached after the first run)

# Generate into a scratch folder and replace hookv1/ only when the code changed, so an
# unchanged .proto leaves the files (and everything built from them) as they were.
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
GO_PACKAGE=mairust/attachmentpolicy/hookv1
"$PYTHON" -m grpc_tools.protoc -I"$PROTO_DIR" \
  --plugin=protoc-gen-go="$GOBIN/protoc-gen-go" \
  --plugin=protoc-gen-go-grpc="$GOBIN/protoc-gen-go-grpc" \
  --go_out="$scratch" --go_opt=paths=source_relative \
  --go_opt=Mmairust_hook_v1.proto=$GO_PACKAGE \
  --go-grpc_out="$scratch" --go-grpc_opt=paths=source_relative \
  --go-grpc_opt=Mmairust_hook_v1.proto=$GO_PACKAGE \
  mairust_hook_v1.proto
if ! diff -qr "$scratch" hookv1 >/dev/null 2>&1; then
  rm -rf hookv1
  mkdir -p hookv1
  cp "$scratch"/*.go hookv1/
fi

BINARY=$GOBIN/attachment-policy
"$GO" build -trimpath -o "$BINARY" . >&2
if [ "$RUN_TESTS" -eq 1 ]; then
  unformatted=$("$(dirname "$GO")/gofmt" -l ./*.go)
  if [ -n "$unformatted" ]; then
    echo "build-go-plugins: not gofmt-formatted: $unformatted" >&2
    exit 1
  fi
  "$GO" vet ./... >&2
  "$GO" test -count=1 ./... >&2
  # The KubeRay manifest validator too, so CI builds it once, before pytest (its tests
  # call the script again: cache hits).
  bash "$ROOT/.ci/build-go-deploy-validator.sh" --test >&2
fi

# Pebble, Let's Encrypt's ACME test CA, for the ACME tests (tests/support/pebble.py runs
# it next to the plugin binary, in $GOBIN): installed from the module proxy at a pinned
# version, once; skipped when the binary there is that version already.
PEBBLE_MODULE=github.com/letsencrypt/pebble/v2
PEBBLE_VERSION=v2.10.3
if ! "$GO" version -m "$GOBIN/pebble" 2>/dev/null |
  grep -Eq "^[[:space:]]+mod[[:space:]]+$PEBBLE_MODULE[[:space:]]+$PEBBLE_VERSION([[:space:]]|$)"; then
  # Outside the plugin's module: `go install pkg@version` builds that module on its own.
  (cd / && "$GO" install "$PEBBLE_MODULE/cmd/pebble@$PEBBLE_VERSION") >&2
fi
echo "$BINARY"
