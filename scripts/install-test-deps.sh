#!/usr/bin/env bash
# Installs what the test suites need, idempotently, cached outside the clone and keyed by version.
# Prints the PATH additions on stdout as `export PATH=...` lines for the caller to eval.
set -euo pipefail

CACHE="${KEYWARD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/keyward-ci}"
AGE_VERSION="v1.3.1"
mkdir -p "$CACHE"

log() { printf 'install-test-deps: %s\n' "$*" >&2; }

# Debian packages for a headless Secret Service.
need_apt=()
command -v gnome-keyring-daemon >/dev/null 2>&1 || need_apt+=(gnome-keyring)
command -v dbus-run-session >/dev/null 2>&1 || need_apt+=(dbus)
command -v secret-tool >/dev/null 2>&1 || need_apt+=(libsecret-tools)
[ -x /usr/bin/time ] || need_apt+=(time)            # GNU time: peak RSS in the benchmarks
command -v unshare >/dev/null 2>&1 || need_apt+=(util-linux)   # the disk-full test's mount namespace
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

# The Go age 1.3.1 (age, age-keygen with -pq), for interop with the reference implementation.
AGE_BIN="$CACHE/age-$AGE_VERSION/bin"
if [ ! -x "$AGE_BIN/age" ] || [ ! -x "$AGE_BIN/age-keygen" ]; then
  if command -v go >/dev/null 2>&1; then
    log "go install filippo.io/age/cmd/...@$AGE_VERSION"
    mkdir -p "$AGE_BIN"
    GOBIN="$AGE_BIN" GOFLAGS=-mod=mod go install "filippo.io/age/cmd/...@$AGE_VERSION" >&2
  else
    log "go is missing: cannot install age $AGE_VERSION (install Go >= 1.22)"
  fi
fi
echo "export PATH=\"$AGE_BIN:\$PATH\""

# ---- gitleaks (appended by the secret scanner; only `npm run bench` needs it) ---------------
# The Go gitleaks v8.28.0, the reference the scanner benchmark measures against. No test
# suite needs it.
GITLEAKS_VERSION="v8.28.0"
GITLEAKS_BIN="$CACHE/gitleaks-$GITLEAKS_VERSION/bin"
if [ ! -x "$GITLEAKS_BIN/gitleaks" ]; then
  if command -v go >/dev/null 2>&1; then
    log "go install github.com/zricethezav/gitleaks/v8@$GITLEAKS_VERSION"
    mkdir -p "$GITLEAKS_BIN"
    GOBIN="$GITLEAKS_BIN" GOFLAGS=-mod=mod go install "github.com/zricethezav/gitleaks/v8@$GITLEAKS_VERSION" >&2 ||
      log "could not install gitleaks $GITLEAKS_VERSION: the scan benchmark will not run"
  else
    log "go is missing: cannot install gitleaks $GITLEAKS_VERSION (install Go >= 1.22)"
  fi
fi
echo "export PATH=\"$GITLEAKS_BIN:\$PATH\""
# ---- end of gitleaks --------------------------------------------------------------------------

# ---- sops (the secret-config engine's reference) ----------------------------------------------
# The Go sops v3.13.2: the interop suites run it both ways, and the benchmark measures against it.
SOPS_VERSION="v3.13.2"
SOPS_BIN="$CACHE/sops-$SOPS_VERSION/bin"
if [ ! -x "$SOPS_BIN/sops" ]; then
  if command -v go >/dev/null 2>&1; then
    log "go install github.com/getsops/sops/v3/cmd/sops@$SOPS_VERSION"
    mkdir -p "$SOPS_BIN"
    GOBIN="$SOPS_BIN" GOFLAGS=-mod=mod go install "github.com/getsops/sops/v3/cmd/sops@$SOPS_VERSION" >&2
  else
    log "go is missing: cannot install sops $SOPS_VERSION (install Go >= 1.25)"
  fi
fi
echo "export PATH=\"$SOPS_BIN:\$PATH\""
# ---- end of sops ------------------------------------------------------------------------------

# ---- moto (AWS KMS, SSM and Secrets Manager on loopback, for the team KMS suites) --------------
MOTO_VERSION="5.2.1"
MOTO_DIR="$CACHE/moto-$MOTO_VERSION"
if [ ! -x "$MOTO_DIR/bin/moto_server" ]; then
  if command -v python3 >/dev/null 2>&1; then
    log "python3 -m venv + pip install moto[server]==$MOTO_VERSION"
    rm -rf "$MOTO_DIR"
    python3 -m venv "$MOTO_DIR" >&2 && "$MOTO_DIR/bin/pip" install -q "moto[server]==$MOTO_VERSION" >&2 ||
      log "could not install moto $MOTO_VERSION"
  else
    log "python3 is missing: cannot install moto (install Python >= 3.9)"
  fi
fi
echo "export PATH=\"$MOTO_DIR/bin:\$PATH\""
# ---- end of moto ------------------------------------------------------------------------------
