#!/usr/bin/env bash
# Runs a command inside a private D-Bus session with an unlocked gnome-keyring (a real
# Secret Service) and an isolated HOME and runtime dir, removed afterwards.
#   scripts/with-keyring.sh npx mocha test/daemon/cli.test.ts
set -euo pipefail
sandbox=$(mktemp -d "${TMPDIR:-/tmp}/keyward-test.XXXXXX")
trap 'rm -rf "$sandbox"' EXIT
mkdir -p "$sandbox/home" "$sandbox/run"; chmod 700 "$sandbox/home" "$sandbox/run"
export KEYWARD_REAL_HOME="$HOME" HOME="$sandbox/home" XDG_RUNTIME_DIR="$sandbox/run"
unset KEYWARD_HOME DBUS_SESSION_BUS_ADDRESS GNOME_KEYRING_CONTROL
exec dbus-run-session -- bash -c '
  eval "$(printf %s keyward-test | gnome-keyring-daemon --unlock --components=secrets 2>/dev/null)"
  export GNOME_KEYRING_CONTROL
  "$@"
' bash "$@" 2> >(grep -v "Failed to set fd limit" >&2)
