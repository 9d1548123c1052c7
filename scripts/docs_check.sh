#!/usr/bin/env bash
# Builds the SDK's DocC documentation (Sources/SwiftflowClient/SwiftflowClient.docc) from the release
# build's SwiftflowClient module, with warnings as errors: every public symbol's parameters documented,
# every ``link`` resolving.
#
#   scripts/docs_check.sh [OUTPUT_DIR]     (after swift build -c release; OUTPUT_DIR keeps the site)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="$(swift build -c release --show-bin-path)"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/swiftflow-docs.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
OUT="${1:-$WORK/site}"
# The module imports C targets (NIO's shims); their module maps and headers sit beside the build.
args=()
while IFS= read -r map; do args+=(-Xcc "-fmodule-map-file=$map"); done \
  < <(find "$BIN" -mindepth 2 -maxdepth 2 -name module.modulemap | grep -v -- '-tool.build/')
while IFS= read -r dir; do args+=(-Xcc "-I$dir"); done \
  < <(find .build/checkouts -type d -name include -path '*Sources*')
mkdir -p "$WORK/symbols"
swift symbolgraph-extract -module-name SwiftflowClient -I "$BIN/Modules" "${args[@]}" \
  -target "$(uname -m)-unknown-linux-gnu" -minimum-access-level public -output-dir "$WORK/symbols"
docc convert Sources/SwiftflowClient/SwiftflowClient.docc --additional-symbol-graph-dir "$WORK/symbols" \
  --warnings-as-errors --fallback-display-name SwiftflowClient --fallback-bundle-identifier org.swiftflow.client \
  --output-path "$OUT" >"$WORK/docc.log" 2>&1 || { cat "$WORK/docc.log" >&2; exit 1; }
echo "docs: SwiftflowClient documentation builds without warnings ($(find "$OUT" -name '*.json' | wc -l) pages)"
