#!/usr/bin/env bash
# Builds the bundled Rust plugins (--release --locked: the versions in each Cargo.lock) and
# prints the path of each binary, one a line. Build output lives outside the clone, under
# ${XDG_CACHE_HOME:-$HOME/.cache}/mairust-build, so a second run (CI's, or a test fixture's)
# only checks that nothing changed; cargo keeps the downloaded crates in its own home.
#   .ci/build-rust-plugins.sh          build, print the binaries
#   .ci/build-rust-plugins.sh --test   run each plugin's `cargo test` first
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/mairust-build"
export CARGO_TARGET_DIR="$CACHE/cargo-target"
mkdir -p "$CARGO_TARGET_DIR"
# A `cargo` under the rustup home when it is not on PATH (a non-login shell).
if ! command -v cargo >/dev/null && [ -x "${CARGO_HOME:-$HOME/.cargo}/bin/cargo" ]; then
  PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
fi
PLUGINS=(plugins/header_rules_rs)
for plugin in "${PLUGINS[@]}"; do
  manifest="$plugin/Cargo.toml"
  if [ "${1:-}" = "--test" ]; then
    cargo test --quiet --locked --manifest-path "$manifest" >&2
  fi
  cargo build --quiet --release --locked --manifest-path "$manifest" >&2
  name=$(sed -n 's/^name = "\(.*\)"$/\1/p' "$manifest" | head -n 1)
  echo "$CARGO_TARGET_DIR/release/$name"
done
