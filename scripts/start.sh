#!/usr/bin/env bash
# npm start: installs what it needs (npm dependencies; code-server 4.139 on Node 24 and the
# Debian packages, cached under KEYWARD_CACHE, see scripts/lib.sh), builds, packages the
# extension (keyward.vsix), makes a demo workspace (encrypted model files, a sops secret config,
# a source file with a FAKE hardcoded key), and serves VS Code (code-server) with Keyward
# installed on http://127.0.0.1:$PORT (default 8080). Ctrl-C or SIGTERM stops code-server (and
# with it the extension, which would otherwise start the daemon again), then the demo's daemon:
# nothing of Keyward's keeps running.
#
# State lives in .keyward-dev/ (git-ignored; KEYWARD_DEV_DIR elsewhere). With no Secret Service
# on the session bus (a headless machine or container), the demo runs in a private, throwaway
# keyring instead of yours, and its keys are gone when it stops.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
DEV=${KEYWARD_DEV_DIR:-$ROOT/.keyward-dev}
PORT=${PORT:-8080}
LOG_NAME="keyward start"
. scripts/lib.sh

if [ "${1:-}" != "--serve" ]; then
  if [ ! -d node_modules ] || ! npm ls --depth=0 >/dev/null 2>&1; then
    if [ -f package-lock.json ]; then clean_npm npm ci >&2; else clean_npm npm install >&2; fi
  fi
  log "installing code-server, Node 24 and a Secret Service if needed (cached; a few minutes the first time)"
  exports=$(bash scripts/install-deps.sh keyring editor) || { log "an install failed (above)"; exit 1; }
  eval "$exports"
  log "building and packaging the extension"
  npm run --silent build
  npm run --silent package >&2
  export KEYWARD_CODE_SERVER KEYWARD_NODE24_BIN KEYWARD_DEV_DIR="$DEV" PORT
  mkdir -p "$DEV"
  rm -f "$DEV/serve.pid"
  # A Secret Service must answer for the daemon's keychain; else use a private one.
  if [ -n "${DBUS_SESSION_BUS_ADDRESS:-}" ] && command -v secret-tool >/dev/null 2>&1 &&
    timeout 5 secret-tool search --all service keyward-start-probe >/dev/null 2>&1; then
    serve=(bash "$0" --serve)
  else
    log "no Secret Service on this session: the demo uses a private keyring (its keys vanish when it stops)"
    export KEYWARD_START_PRIVATE_KEYRING=1
    serve=(bash scripts/with-keyring.sh bash "$0" --serve)
  fi
  # The serving shell does the clean-up (its EXIT trap). A signal sent to this process alone
  # (SIGTERM from npm, a supervisor or kill) is passed on to it, and this one waits for it to
  # finish, so the private keyring's D-Bus session also ends in order.
  "${serve[@]}" &
  child=$!
  forward() {
    local pid
    pid=$(cat "$DEV/serve.pid" 2>/dev/null) || pid=$child
    kill -TERM "$pid" 2>/dev/null || true
  }
  trap forward INT TERM
  status=0
  while kill -0 "$child" 2>/dev/null; do wait "$child" || status=$?; done
  exit "$status"
fi

# ---- serve (inside the keyring session) ------------------------------------------------------
mkdir -p "$DEV"
echo $$ >"$DEV/serve.pid"
export KEYWARD_HOME=$DEV/home
if [ -n "${KEYWARD_START_PRIVATE_KEYRING:-}" ]; then
  rm -rf "$KEYWARD_HOME" # its keys were in the last private keyring, gone now
  export XDG_RUNTIME_DIR=$DEV/run
  mkdir -p "$XDG_RUNTIME_DIR"; chmod 700 "$XDG_RUNTIME_DIR"
fi
CS=$DEV/code-server
mkdir -p "$CS/user/User" "$CS/exts" "$CS/xdg"
export XDG_CONFIG_HOME=$CS/xdg XDG_DATA_HOME=$CS/xdg
keyward() { node "$ROOT/dist/cli.js" "$@"; }

cs_pid=""
stop() {
  trap '' INT TERM
  if [ -n "$cs_pid" ]; then
    # code-server runs in a session of its own: stop the whole group (the extension host with
    # it), and only then the daemon, or the extension would start a new one.
    kill -TERM -- "-$cs_pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 -- "-$cs_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$cs_pid" 2>/dev/null || true
  fi
  keyward daemon stop >/dev/null 2>&1 || true
  rm -f "$DEV/serve.pid"
}
trap stop EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

keyward daemon stop >/dev/null 2>&1 || true
log "making the demo workspace in $DEV/demo"
node --import tsx test/editor/demo.ts "$DEV/demo" >/dev/null
keyward daemon stop >/dev/null 2>&1 || true # the extension starts its own, from the .vsix

PATH="$KEYWARD_NODE24_BIN:$PATH" "$KEYWARD_CODE_SERVER" --extensions-dir "$CS/exts" --user-data-dir "$CS/user" \
  --install-extension "$ROOT/keyward.vsix" --force >/dev/null
if [ ! -f "$CS/user/User/settings.json" ]; then
  cat >"$CS/user/User/settings.json" <<'JSON'
{
  "workbench.startupEditor": "none",
  "chat.disableAIFeatures": true,
  "workbench.secondarySideBar.defaultVisibility": "hidden",
  "telemetry.telemetryLevel": "off",
  "update.mode": "none"
}
JSON
fi

PATH="$KEYWARD_NODE24_BIN:$PATH" setsid "$KEYWARD_CODE_SERVER" --auth none --bind-addr "127.0.0.1:$PORT" \
  --user-data-dir "$CS/user" --extensions-dir "$CS/exts" --disable-telemetry --disable-update-check \
  --disable-workspace-trust --disable-getting-started-override --ignore-last-opened "$DEV/demo" >"$DEV/code-server.log" 2>&1 &
cs_pid=$!
ready=false
for _ in $(seq 1 240); do
  if curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1; then ready=true; break; fi
  if ! kill -0 "$cs_pid" 2>/dev/null; then break; fi
  sleep 0.5
done
if ! $ready; then
  log "code-server did not start (is port $PORT free? set PORT=...): see $DEV/code-server.log"
  tail -n 5 "$DEV/code-server.log" >&2
  exit 1
fi
folder=$(node -e 'process.stdout.write(encodeURIComponent(process.argv[1]))' "$DEV/demo")
echo
echo "Keyward in VS Code (code-server): http://127.0.0.1:$PORT/?folder=$folder"
echo "  Open the Keyward view (shield icon); config/app.enc.yaml opens decrypted in memory;"
echo "  src/train.py holds a FAKE hardcoded key with quick fixes. Ctrl-C stops it."
wait "$cs_pid"
