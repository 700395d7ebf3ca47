#!/usr/bin/env bash
# npm run bench: the reference tools (Go age, sops, gitleaks, kingfisher) and GNU time come from the same cached
# installs as the tests; then every bench/*.bench.ts runs and bench/results.json is written.
#   npm run bench            all sections
#   npm run bench -- age     one section (the others in results.json are kept)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
if [ ! -d node_modules ] || ! npm ls --depth=0 >/dev/null 2>&1; then
  if [ -f package-lock.json ]; then clean_npm npm ci >&2; else clean_npm npm install >&2; fi
fi
exports=$(bash scripts/install-deps.sh test bench) || echo "npm run bench: an install failed (above)" >&2
eval "$exports"
npm run --silent build
exec node_modules/.bin/tsx bench/run.ts "$@"
