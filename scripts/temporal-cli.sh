#!/usr/bin/env bash
# Builds the official Temporal CLI from its Go module once and caches it outside the checkout, so CI's
# fresh clone and later runs reuse it in seconds. Prints the binary's path.
set -euo pipefail

TEMPORAL_CLI_VERSION=v1.5.1 # the newest release whose go.mod has no replace lines (go install refuses those)
cache_dir="${COURIER_CACHE_DIR:-$HOME/.cache/courier}/temporal-cli-$TEMPORAL_CLI_VERSION"
binary="$cache_dir/temporal"

if [ ! -x "$binary" ]; then
  go_bin="$(command -v go || echo /usr/local/go/bin/go)"
  [ -x "$go_bin" ] || { echo "temporal-cli: Go is required to build the Temporal CLI (looked in PATH and /usr/local/go/bin)" >&2; exit 1; }
  echo "temporal-cli: building github.com/temporalio/cli $TEMPORAL_CLI_VERSION into $cache_dir (once)" >&2
  mkdir -p "$cache_dir"
  CGO_ENABLED=0 GOBIN="$cache_dir" GOFLAGS=-mod=mod "$go_bin" install "github.com/temporalio/cli/cmd/temporal@$TEMPORAL_CLI_VERSION" >&2
fi
echo "$binary"
