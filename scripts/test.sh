#!/usr/bin/env bash
# npm test: installs what the suites need (idempotent, cached under KEYWARD_CACHE, see
# scripts/lib.sh), builds, type-checks, lints, then runs every suite inside a private D-Bus
# session with an unlocked Secret Service (gnome-keyring) and an isolated HOME.
# With CI=true nothing may be skipped: a tool that is missing fails the run.
# Arguments go to mocha (e.g. `npm test -- test/unit/audit.test.ts`).
set -euo pipefail
cd "$(dirname "$0")/.."
LOG_NAME="npm test"
. scripts/lib.sh
ci=false; case "${CI:-}" in true|1) ci=true ;; esac

# Each step says when it starts, with the time since the run began (for the README's cold and
# warm figures).
step() { printf '\n== [%dm%02ds] %s\n' $((SECONDS / 60)) $((SECONDS % 60)) "$*" >&2; }
trap 'printf "\n== [%dm%02ds] npm test ended (exit %s)\n" $((SECONDS / 60)) $((SECONDS % 60)) "$?" >&2' EXIT

step "npm dependencies"
if [ ! -d node_modules ] || ! npm ls --depth=0 >/dev/null 2>&1; then
  if [ -f package-lock.json ]; then clean_npm npm ci >&2; else clean_npm npm install >&2; fi
fi

step "tools (Debian packages; age, sops, moto; Node 24, code-server; cached by version)"
exports=$(bash scripts/install-deps.sh test editor) || log "an install failed (above)"
eval "$exports"
missing=()
for t in age age-keygen age-plugin-batchpass sops moto_server dbus-run-session gnome-keyring-daemon secret-tool; do
  command -v "$t" >/dev/null 2>&1 || missing+=("$t")
done
for v in KEYWARD_CODE_SERVER KEYWARD_NODE24_BIN KEYWARD_CHROMIUM; do
  [ -n "${!v:-}" ] || missing+=("$v (the editor suite's tools)")
done
[ -x "${KEYWARD_PYTHON:-}" ] || missing+=("KEYWARD_PYTHON (the Python suite's venv)")
if [ "${#missing[@]}" -gt 0 ]; then
  if $ci; then log "missing ${missing[*]}, and CI=true forbids skipping"; exit 1; fi
  log "warning: missing ${missing[*]}; the suites that need them will be skipped"
fi
export KEYWARD_CODE_SERVER KEYWARD_NODE24_BIN KEYWARD_CHROMIUM

step "build, type-check, lint"
npm run --silent build
npm run --silent typecheck
npm run --silent lint

step "suites"
# A private D-Bus session with a real, unlocked Secret Service, and an isolated HOME and
# runtime dir: the suites never touch the user's keychain or daemon.
mocha=(node_modules/.bin/mocha --reporter test/reporter.cjs "$@")
in_keyring() {
  if command -v dbus-run-session >/dev/null 2>&1 && command -v gnome-keyring-daemon >/dev/null 2>&1; then
    bash scripts/with-keyring.sh "$@"
  else
    "$@"
  fi
}
status=0
# The Python package's suite (pytest, in the venv install-deps.sh made), unless mocha was given
# files to run; pytest prints its own summary line. Then mocha, whose closing line comes last.
if [ "$#" -eq 0 ] && [ -x "${KEYWARD_PYTHON:-}" ]; then
  step "python package (pytest)"
  in_keyring "$KEYWARD_PYTHON" -m pytest test/python -q || status=1
  step "mocha"
fi
in_keyring "${mocha[@]}" || status=1
exit "$status"
