#!/usr/bin/env bash
# Runs only the given test files (mocha's config would add every suite).
exec node_modules/.bin/mocha --no-config --node-option import=tsx --extension ts --timeout 20000 "$@"
