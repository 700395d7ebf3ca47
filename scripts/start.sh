#!/usr/bin/env bash
# npm start: install npm dependencies if needed, build, start the daemon, print its status
# and socket path. (The extension issue extends this to open VS Code on a demo workspace.)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d node_modules ] || ! npm ls --depth=0 >/dev/null 2>&1; then
  if [ -f package-lock.json ]; then npm ci --no-audit --no-fund >&2; else npm install --no-audit --no-fund >&2; fi
fi
npm run --silent build
node dist/cli.js daemon start
echo
echo "The daemon runs in the background. Try:"
echo "  node dist/cli.js keys generate demo          # prints the new recipient"
echo "  node dist/cli.js encrypt -k demo FILE         # writes FILE.age"
echo "  node dist/cli.js daemon stop"
