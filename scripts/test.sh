#!/usr/bin/env bash
# npm test: installs what the suites need (idempotent, cached outside the clone), builds,
# type-checks, lints, then runs every suite inside a private D-Bus session with an unlocked
# Secret Service (gnome-keyring) and an isolated HOME. With CI=true nothing may be skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
ci=false; case "${CI:-}" in true|1) ci=true ;; esac

step() { printf '\n== %s\n' "$*" >&2; }

step "npm dependencies"
if [ ! -d node_modules ] || ! npm ls --depth=0 >/dev/null 2>&1; then
  if [ -f package-lock.json ]; then npm ci --no-audit --no-fund >&2; else npm install --no-audit --no-fund >&2; fi
fi

step "test tools (age, sops, moto, gnome-keyring, dbus, libsecret-tools; cached by version)"
eval "$(bash scripts/install-test-deps.sh)"
missing=()
for t in age age-keygen sops moto_server dbus-run-session gnome-keyring-daemon secret-tool; do
  command -v "$t" >/dev/null 2>&1 || missing+=("$t")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if $ci; then echo "npm test: missing ${missing[*]} and CI=true forbids skipping" >&2; exit 1; fi
  echo "npm test: warning: missing ${missing[*]}; the suites that need them will be skipped" >&2
fi

step "editor tools (code-server 4.139.1 on Node 24, chromium; cached by version)"
eval "$(bash scripts/install-editor-deps.sh)"
for v in KEYWARD_CODE_SERVER KEYWARD_NODE24_BIN KEYWARD_CHROMIUM; do
  if [ -z "${!v:-}" ]; then
    if $ci; then echo "npm test: $v is not set (editor tools missing) and CI=true forbids skipping" >&2; exit 1; fi
    echo "npm test: warning: editor tools missing; the editor suite will be skipped" >&2
  fi
done

step "build, type-check, lint"
npm run --silent build
npm run --silent typecheck
npm run --silent lint

step "suites"
# A private D-Bus session with a real, unlocked Secret Service, and an isolated HOME and
# runtime dir: the suites never touch the user's keychain or daemon.
mocha=(node_modules/.bin/mocha --reporter test/reporter.cjs "$@")
if command -v dbus-run-session >/dev/null 2>&1 && command -v gnome-keyring-daemon >/dev/null 2>&1; then
  bash scripts/with-keyring.sh "${mocha[@]}"
else
  "${mocha[@]}"
fi
