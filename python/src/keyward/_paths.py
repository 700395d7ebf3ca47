"""Where a Keyward home's daemon listens, by the rules of daemon/protocol/paths.ts.

That file is the one definition (the daemon, the CLI and the editor extension use it); this
module follows it step by step, and test/python/test_contract.py checks that both give the
same paths for the same environment.
"""
from __future__ import annotations

import hashlib
import os
import posixpath
import sys
from dataclasses import dataclass
from typing import Mapping, Optional

from .errors import InvalidInput

# Unix socket paths are limited to 104 (macOS) or 108 (Linux) bytes including the NUL.
MAX_SOCKET_PATH = 100


def _join(*parts: str) -> str:
    """Node's path.join: joined, then normalized ('//' and '..' collapsed)."""
    p = posixpath.normpath(posixpath.join(*parts))
    return "/" + p.lstrip("/") if p.startswith("//") else p


def _tmpdir(env: Mapping[str, str]) -> str:
    """Node's os.tmpdir() on POSIX: TMPDIR, TMP or TEMP, else /tmp; no trailing slash."""
    d = env.get("TMPDIR") or env.get("TMP") or env.get("TEMP") or "/tmp"
    return d[:-1] if len(d) > 1 and d.endswith("/") else d


def keyward_home(env: Optional[Mapping[str, str]] = None) -> str:
    """KEYWARD_HOME (made absolute), else the platform's data directory."""
    env = os.environ if env is None else env
    if env.get("KEYWARD_HOME"):
        return os.path.abspath(env["KEYWARD_HOME"])
    home = os.path.expanduser("~")  # Node's os.homedir(): $HOME of this process, else the user database
    if sys.platform == "darwin":
        return _join(home, "Library", "Application Support", "Keyward")
    if sys.platform == "win32":
        raise InvalidInput("the Python client does not support Windows yet", "use the keyward CLI there")
    return _join(env.get("XDG_DATA_HOME") or _join(home, ".local", "share"), "keyward")


@dataclass(frozen=True)
class DaemonPaths:
    home: str
    run_dir: str
    socket: str
    token: str


def daemon_paths(home: str, env: Optional[Mapping[str, str]] = None) -> DaemonPaths:
    """The daemon's socket and token for a home (one daemon per user and home)."""
    env = os.environ if env is None else env
    real = home
    if os.path.exists(home):
        # Node's realpathSync; a home not created yet is taken as given.
        real = os.path.realpath(home)
    ident = hashlib.sha256(real.encode("utf-8", "surrogateescape")).hexdigest()[:12]
    run_dir = _join(env["XDG_RUNTIME_DIR"], "keyward") if env.get("XDG_RUNTIME_DIR") else _join(home, "run")
    if len(_join(run_dir, f"{ident}.sock")) > MAX_SOCKET_PATH:
        uid = os.getuid() if hasattr(os, "getuid") else "user"
        run_dir = _join(_tmpdir(env), f"keyward-{uid}")
    return DaemonPaths(home=home, run_dir=run_dir, socket=_join(run_dir, f"{ident}.sock"), token=_join(run_dir, f"{ident}.token"))
