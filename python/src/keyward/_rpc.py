"""A client of the Keyward daemon's wire protocol.

JSON-RPC 2.0 messages, each framed as vscode-jsonrpc frames them (a ``Content-Length: N``
header, a blank line, then N bytes of UTF-8 JSON), over the daemon's Unix socket. The first
request of a connection is ``session/authenticate`` with the token the daemon wrote beside its
socket (0600, in a 0700 directory); until it succeeds the daemon answers nothing else.
The method names and the protocol version are those of daemon/protocol/ (checked by
test/python/test_contract.py).
"""
from __future__ import annotations

import atexit
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
from typing import Any, Mapping, Optional

from . import errors
from ._paths import DaemonPaths, daemon_paths, keyward_home

PROTOCOL_VERSION = 1
CLIENT_NAME = "python"

METHOD_AUTHENTICATE = "session/authenticate"
METHOD_FILE_KEY = "runtime/fileKey"
METHOD_SEAL = "runtime/seal"
METHOD_PLUGIN_PROMPT = "plugins/prompt"
METHOD_PLUGIN_ENVIRONMENT = "plugins/environment"
METHOD_PLUGIN_WAITING = "plugins/waiting"

CONNECT_TIMEOUT_S = 3.0
REQUEST_TIMEOUT_S = 120.0
START_TIMEOUT_S = 60.0
MAX_MESSAGE = 64 * 1024 * 1024


def program_name() -> str:
    """This program's name for the audit log: its script or executable, never its arguments."""
    argv0 = sys.argv[0] if sys.argv else ""
    name = os.path.basename(argv0) if argv0 not in ("", "-c", "-m", "-") else ""
    name = (name or os.path.basename(sys.executable)).translate({ord("\\"): None, ord("/"): None, 0: None})
    return name[:255] or "python"


def _lost() -> errors.DaemonUnavailable:
    e = errors.DaemonUnavailable("the connection to the daemon was lost", "check the daemon log; it restarts on the next command")
    e.connection_lost = True  # type: ignore[attr-defined]
    return e


def _not_running() -> errors.DaemonUnavailable:
    return errors.DaemonUnavailable(
        "no keyward daemon is running",
        "start it with keyward daemon start (the Python client starts it itself when the keyward CLI is on PATH or KEYWARD_CLI names it)",
    )


class Connection:
    """One authenticated connection. Not shared between threads at once (each call locks)."""

    def __init__(self, sock: socket.socket):
        self._sock = sock
        self._buf = bytearray()
        self._next_id = 0
        self._lock = threading.Lock()
        self.closed = False

    def close(self) -> None:
        self.closed = True
        try:
            self._sock.close()
        except OSError:
            pass

    def __enter__(self) -> "Connection":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def call(self, method: str, params: Mapping[str, Any], timeout: float = REQUEST_TIMEOUT_S) -> Any:
        """Sends one request and returns its result; the daemon's errors raise KeywardError subclasses."""
        with self._lock:
            self._next_id += 1
            req_id = self._next_id
            self._sock.settimeout(timeout)
            try:
                self._send({"jsonrpc": "2.0", "id": req_id, "method": method, "params": dict(params)})
                while True:
                    msg = self._read_message()
                    if "method" in msg:
                        self._serve(msg)  # the daemon asks something on behalf of an age plugin
                        continue
                    if msg.get("id") != req_id:
                        continue  # an answer to nothing this connection is waiting for
                    if "error" in msg:
                        err = msg["error"] or {}
                        data = err.get("data") if isinstance(err.get("data"), dict) else {}
                        raise errors.from_wire(int(err.get("code", 0)), str(err.get("message", "error")), data.get("hint"))
                    return msg.get("result")
            except socket.timeout:
                self.close()
                raise errors.DaemonUnavailable(f"the daemon did not answer {method} within {timeout:g} s", "check the daemon log") from None
            except (ConnectionError, BrokenPipeError, OSError) as e:
                if isinstance(e, errors.KeywardError):
                    raise
                self.close()
                raise _lost() from None

    def _send(self, msg: dict) -> None:
        body = json.dumps(msg, separators=(",", ":")).encode("utf-8")
        self._sock.sendall(b"Content-Length: %d\r\n\r\n" % len(body) + body)

    def _serve(self, msg: dict) -> None:
        """Answers the daemon's requests of an operation in progress (daemon/protocol/plugins.ts):
        plugins run in this process's environment, and their questions are asked on this
        process's terminal, as the CLI asks them; anything else is refused."""
        method, params = msg.get("method"), msg.get("params") or {}
        if method == METHOD_PLUGIN_WAITING and isinstance(params, dict) and params.get("waiting"):
            sys.stderr.write(f"keyward: waiting for the {_clean(params.get('plugin'))} plugin (touch your key or confirm on the device if it asks)...\n")
        if "id" not in msg:
            return
        if method == METHOD_PLUGIN_ENVIRONMENT:
            self._send({"jsonrpc": "2.0", "id": msg["id"], "result": {"env": dict(os.environ)}})
        elif method == METHOD_PLUGIN_PROMPT and isinstance(params, dict):
            self._send({"jsonrpc": "2.0", "id": msg["id"], "result": _ask(params)})
        else:
            self._send({"jsonrpc": "2.0", "id": msg["id"], "error": {"code": -32601, "message": f"the Python client does not handle {str(method)[:64]}"}})

    def _read_message(self) -> dict:
        while True:
            end = self._buf.find(b"\r\n\r\n")
            if end >= 0:
                break
            if len(self._buf) > 8192:
                raise errors.DaemonUnavailable("the daemon sent a malformed message header", "check the daemon version")
            self._fill()
        length = None
        for line in bytes(self._buf[:end]).split(b"\r\n"):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        if length is None or length < 0 or length > MAX_MESSAGE:
            raise errors.DaemonUnavailable("the daemon sent a message without a valid Content-Length", "check the daemon version")
        del self._buf[: end + 4]
        while len(self._buf) < length:
            self._fill()
        body = bytes(self._buf[:length])
        del self._buf[:length]
        msg = json.loads(body.decode("utf-8"))
        if not isinstance(msg, dict):
            raise errors.DaemonUnavailable("the daemon sent a message that is not a JSON object", "check the daemon version")
        return msg

    def _fill(self) -> None:
        data = self._sock.recv(1 << 16)
        if not data:
            raise _lost()
        self._buf += data


def _clean(v: Any) -> str:
    """A plugin's text for the terminal: printable characters only, not too long."""
    return "".join(c for c in str(v or "")[:500] if c.isprintable())


def _ask(p: Mapping[str, Any]) -> dict:
    """One plugin question on the terminal (the controlling terminal, as getpass uses), or why not."""
    who = f"{_clean(p.get('plugin'))} plugin"
    kind, message = p.get("kind"), _clean(p.get("message"))
    if kind == "message":
        sys.stderr.write(f"keyward: {who}: {message}\n")
        return {"ok": True}
    try:
        tty = open("/dev/tty", "r+", encoding="utf-8", errors="replace")  # noqa: SIM115
    except OSError:
        return {"ok": False, "reason": "there is no terminal to ask on"}
    with tty:
        try:
            if kind == "secret":
                import getpass

                return {"ok": True, "value": getpass.getpass(f"{who}: {message} (input hidden): ", stream=tty)}
            if kind == "confirm":
                yes, no = _clean(p.get("yes") or "yes"), (_clean(p["no"]) if p.get("no") is not None else None)
                tty.write(f"{who}: {message} [{yes}{'/' + no if no is not None else ''}] ")
                tty.flush()
                a = tty.readline().strip().lower()
                if a in ("", yes.lower(), "y", "yes"):
                    return {"ok": True, "yes": True}
                if no is not None and a in (no.lower(), "n", "no"):
                    return {"ok": True, "yes": False}
                return {"ok": False, "reason": "the answer was neither choice"}
            tty.write(f"{who}: {message}: ")
            tty.flush()
            line = tty.readline()
            return {"ok": True, "value": line.rstrip("\n")} if line else {"ok": False, "reason": "you dismissed it"}
        except (EOFError, KeyboardInterrupt, OSError):
            return {"ok": False, "reason": "you dismissed it"}


def _cli_command(env: Mapping[str, str]) -> Optional[list]:
    """How to run the keyward CLI: KEYWARD_CLI (an executable, or a .js file run by node), else `keyward` on PATH."""
    given = env.get("KEYWARD_CLI")
    if given:
        if given.endswith(".js"):
            node = shutil.which("node", path=env.get("PATH"))
            return [node, given] if node else None
        return [given]
    found = shutil.which("keyward", path=env.get("PATH"))
    return [found] if found else None


def start_daemon(home: str, env: Mapping[str, str]) -> None:
    """Starts the daemon of `home` through the CLI (`keyward daemon start`), which waits until it answers."""
    cmd = _cli_command(env)
    if cmd is None:
        raise _not_running()
    child_env = dict(env)
    child_env["KEYWARD_HOME"] = home
    try:
        r = subprocess.run(cmd + ["daemon", "start"], env=child_env, stdin=subprocess.DEVNULL, capture_output=True, timeout=START_TIMEOUT_S, text=True)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise errors.DaemonUnavailable(f"could not start the daemon with {cmd[-1]}: {type(e).__name__}", "start it with keyward daemon start and see its log") from None
    if r.returncode != 0:
        last = (r.stderr.strip().splitlines() or ["no message"])[-1]
        raise errors.DaemonUnavailable(f"the daemon did not start: {last}", "see the daemon log in the Keyward home")


def _connect_socket(paths: DaemonPaths) -> socket.socket:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(CONNECT_TIMEOUT_S)
    try:
        s.connect(paths.socket)
    except (FileNotFoundError, ConnectionRefusedError):
        s.close()
        raise _not_running() from None
    except socket.timeout:
        s.close()
        raise errors.DaemonUnavailable("the daemon did not accept the connection in time", "check the daemon log, or restart it") from None
    except OSError as e:
        s.close()
        raise errors.DaemonUnavailable(f"cannot reach the daemon ({e.__class__.__name__})", "start it with keyward daemon start") from None
    return s


def connect(home: Optional[str] = None, *, env: Optional[Mapping[str, str]] = None, start: bool = True) -> Connection:
    """An authenticated connection to the daemon of `home` (default: the CLI's), started through the CLI if none runs and `start`."""
    env = dict(os.environ if env is None else env)
    home = os.path.abspath(home) if home else keyward_home(env)
    paths = daemon_paths(home, env)
    try:
        sock = _connect_socket(paths)
    except errors.DaemonUnavailable as e:
        if not start or e.message != "no keyward daemon is running":
            raise
        start_daemon(home, env)
        paths = daemon_paths(home, env)
        sock = _connect_socket(paths)
    conn = Connection(sock)
    try:
        try:
            with open(paths.token, "r", encoding="utf-8") as f:
                token = f.read().strip()
        except OSError:
            raise errors.DaemonUnavailable(f"cannot read the daemon token {paths.token}", "restart the daemon: keyward daemon stop, then retry") from None
        conn.call(METHOD_AUTHENTICATE, {"token": token, "client": CLIENT_NAME, "protocolVersion": PROTOCOL_VERSION}, timeout=30.0)
    except BaseException:
        conn.close()
        raise
    return conn


# This process's connection to each daemon, made on first use and kept (see call).
_shared: "dict[str, tuple[int, Connection]]" = {}
_shared_lock = threading.Lock()


@atexit.register
def _close_shared() -> None:
    """Closes this process's kept connections as it exits (not a forked parent's: they are its)."""
    with _shared_lock:
        for pid, conn in _shared.values():
            if pid == os.getpid():
                conn.close()
        _shared.clear()


def call(home: Optional[str], method: str, params: Mapping[str, Any], *, start: bool = True) -> Any:
    """One request to the daemon of `home`, on this process's connection to it: connected and
    authenticated at the first request, then kept, so that each ``keyward.open`` costs one round
    trip, not a connection, an authentication and a request. A kept connection the daemon closed
    meanwhile (it stopped, or restarted) is replaced once; a child process after ``fork`` makes
    its own (the socket is the parent's)."""
    env = dict(os.environ)
    key = os.path.abspath(home) if home else keyward_home(env)
    with _shared_lock:
        held = _shared.get(key)
        kept = held is not None and held[0] == os.getpid() and not held[1].closed
        if held is not None and held[0] != os.getpid():
            # A parent's connection, inherited through fork: this process's copy of the socket
            # is closed (the parent's stays open), and this process makes its own.
            held[1].close()
        conn = held[1] if kept and held is not None else connect(key, env=env, start=start)
        _shared[key] = (os.getpid(), conn)
    try:
        return conn.call(method, params)
    except errors.DaemonUnavailable as e:
        if not kept or not getattr(e, "connection_lost", False):
            raise
        conn.close()
    with _shared_lock:
        conn = connect(key, env=env, start=start)
        _shared[key] = (os.getpid(), conn)
    return conn.call(method, params)
