# Shared by the installers (sourced, not run). Everything Keyward installs for its tests, its
# editor suite and its benchmarks lives under one cache, keyed by version:
#   KEYWARD_CACHE (default ${XDG_CACHE_HOME:-~/.cache}/keyward-ci)
# and so do the package managers' own caches for those installs (Go modules and builds, pip,
# npm), so an empty KEYWARD_CACHE is a cold machine: that is how the README's cold check works.
#
# Every install goes into a temporary folder beside its final place and is renamed into place
# only when it completed, so an interrupted or failed install never looks installed.

CACHE="${KEYWARD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/keyward-ci}"
mkdir -p "$CACHE"
CACHE=$(cd "$CACHE" && pwd -P)
export KEYWARD_CACHE="$CACHE" # the same cache for whatever runs below (with-keyring.sh moves HOME)

# Go: module and build caches inside CACHE; -modcacherw so a cache can be deleted with rm -rf.
export GOMODCACHE="$CACHE/go/mod" GOCACHE="$CACHE/go/build" GOFLAGS="-modcacherw -mod=mod"
export GOTOOLCHAIN=local GOTELEMETRY=off
export PIP_CACHE_DIR="$CACHE/pip" PIP_DISABLE_PIP_VERSION_CHECK=1

log() { printf '%s: %s\n' "${LOG_NAME:-install}" "$*" >&2; }

# Runs a command with a clean npm environment. Run from inside `npm test` or `npm start`, a
# nested npm inherits the outer npm's npm_config_* (user agent included, which names the outer
# Node: code-server's postinstall reads its Node version there), npm_lifecycle_*, npm_package_*
# and a PATH with this project's node_modules/.bin and npm's node-gyp-bin first. None of that
# belongs to the nested install. Its npm cache is CACHE/npm. Settings meant for the nested
# install come first, as `--set npm_config_x=value` (an rc file's nodedir=/usr, say, would
# otherwise win over one set in the environment before the clean-up).
clean_npm() {
  local -a sets=()
  while [ "${1:-}" = --set ]; do sets+=("$2"); shift 2; done
  local -a unset_args=()
  local name
  while IFS= read -r name; do
    case "$name" in
      # How to reach the registry is the same for any install: kept (from the user's shell or rc files).
      npm_config_registry | npm_config_*:registry | npm_config__* | npm_config_proxy | npm_config_https_proxy | \
        npm_config_noproxy | npm_config_cafile | npm_config_ca | npm_config_strict_ssl | npm_config_userconfig | \
        npm_config_globalconfig) ;;
      npm_* | INIT_CWD | NODE) unset_args+=(-u "$name") ;;
    esac
  done < <(env -0 | tr '\0\n' '\n ' | sed -n 's/^\([A-Za-z_][A-Za-z0-9_]*\)=.*/\1/p')
  local path="" part
  local IFS=:
  for part in $PATH; do
    case "$part" in
      */node_modules/.bin | */node-gyp-bin | "") ;;
      *) path="${path:+$path:}$part" ;;
    esac
  done
  env "${unset_args[@]}" PATH="$path" npm_config_cache="$CACHE/npm" npm_config_update_notifier=false \
    npm_config_fund=false npm_config_audit=false "${sets[@]}" "$@"
}

# apt-get install, as root; updates the package lists first when they are missing or stale, and
# once more if the install fails (lists older than the mirror's packages give 404s).
apt_install() {
  [ "$#" -gt 0 ] || return 0
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    log "missing $*: install them with your package manager (Debian: apt-get install $*)"
    return 0
  fi
  local lists=/var/lib/apt/lists
  export DEBIAN_FRONTEND=noninteractive
  if ! ls "$lists"/*_Packages* >/dev/null 2>&1 || [ -n "$(find "$lists" -maxdepth 0 -mmin +1440 2>/dev/null)" ]; then
    log "apt-get update"
    apt-get -o DPkg::Lock::Timeout=600 update -qq >&2 || log "apt-get update failed; trying the install with the lists there are"
  fi
  log "apt-get install $*"
  if ! apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "$@" >&2; then
    log "apt-get install failed; updating the package lists and trying once more"
    apt-get -o DPkg::Lock::Timeout=600 update -qq >&2
    apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "$@" >&2
  fi
}

# with_lock DIR CMD...: runs CMD holding DIR.lock, so two runs sharing a cache (two clones
# testing at once) install a tool once, one after the other, and never into each other's way.
with_lock() {
  local dir=$1; shift
  if command -v flock >/dev/null 2>&1; then
    mkdir -p "$(dirname "$dir")"
    { flock 9; "$@"; } 9>"$dir.lock"
  else
    "$@"
  fi
}

# go_install DIR PKG...: `go install` into DIR/bin, whole or not at all (DIR/.complete marks it).
go_install() { [ -f "$1/.complete" ] || with_lock "$1" _go_install "$@"; }
_go_install() {
  local dir=$1; shift
  [ -f "$dir/.complete" ] && return 0
  if ! command -v go >/dev/null 2>&1; then
    log "go is missing: cannot install $* (install Go >= 1.25)"
    return 1
  fi
  local tmp="$dir.partial.$$"
  rm -rf "$tmp"; mkdir -p "$tmp/bin"
  log "go install $*"
  if GOBIN="$tmp/bin" go install "$@" >&2; then
    touch "$tmp/.complete"; rm -rf "$dir"; mv "$tmp" "$dir"
  else
    rm -rf "$tmp"; log "go install $* failed"; return 1
  fi
}

# venv_install DIR PKG...: a Python venv at DIR with PKG installed, whole or not at all.
venv_install() { [ -f "$1/.complete" ] || with_lock "$1" _venv_install "$@"; }
_venv_install() {
  local dir=$1; shift
  [ -f "$dir/.complete" ] && return 0
  if ! command -v python3 >/dev/null 2>&1; then
    log "python3 is missing: cannot install $* (install Python >= 3.9)"
    return 1
  fi
  # A venv records its own path in its scripts: build it in place, mark it complete last.
  rm -rf "$dir"
  log "python3 -m venv + pip install $*"
  if python3 -m venv "$dir" >&2 && "$dir/bin/pip" install -q "$@" >&2; then
    touch "$dir/.complete"
  else
    rm -rf "$dir"; log "pip install $* failed"; return 1
  fi
}

# npm_tool_install DIR [--set npm_config_x=value]... PKG...: PKG installed with a clean npm
# environment (clean_npm) into DIR/node_modules, whole or not at all.
npm_tool_install() { [ -f "$1/.complete" ] || with_lock "$1" _npm_tool_install "$@"; }
_npm_tool_install() {
  local dir=$1; shift
  [ -f "$dir/.complete" ] && return 0
  local -a sets=()
  while [ "${1:-}" = --set ]; do sets+=(--set "$2"); shift 2; done
  local tmp="$dir.partial.$$"
  rm -rf "$tmp"; mkdir -p "$tmp"
  log "npm install $*"
  # A package.json of its own that depends on PKG: the install is project-scoped, and its
  # allowScripts lists the packages whose install scripts the tool needs (an npm that enforces
  # the list runs no others).
  local deps="" spec
  for spec in "$@"; do deps="${deps:+$deps, }\"${spec%@*}\": \"${spec##*@}\""; done
  printf '{ "name": "keyward-tool", "private": true, "dependencies": { %s }, "allowScripts": %s }\n' \
    "$deps" "${NPM_ALLOW_SCRIPTS:-{\}}" >"$tmp/package.json"
  if (cd "$tmp" && clean_npm "${sets[@]}" npm install --foreground-scripts >&2); then
    touch "$tmp/.complete"; rm -rf "$dir"; mv "$tmp" "$dir"
  else
    rm -rf "$tmp"; log "npm install $* failed"; return 1
  fi
}
