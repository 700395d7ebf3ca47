"""What must fail, fails: with an exception that says what happened, and without one byte of an
unauthenticated chunk reaching the caller."""
from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import subprocess
import threading

import pytest
from conftest import Sandbox, require_tool

import keyward
from keyward import _age, _paths

CHUNK = 64 * 1024
SEALED = CHUNK + 16
SENTINEL = 0xA5


def _layout(path: str) -> int:
    """Where chunk 0 starts (after the header and the nonce)."""
    with open(path, "rb") as f:
        h = _age.find_header(f.read(1 << 20), True)
    return h.size + 16


def _flip(path: str, offset: int) -> None:
    with open(path, "r+b") as f:
        f.seek(offset)
        b = f.read(1)
        f.seek(offset)
        f.write(bytes([b[0] ^ 0x01]))


def _swap_base64(path: str, offset: int) -> None:
    """Changes one base64 character of the header into another one (still canonical base64)."""
    with open(path, "r+b") as f:
        f.seek(offset)
        b = f.read(1)
        f.seek(offset)
        f.write(b"B" if b == b"A" else b"A")


@pytest.fixture
def five_chunks(sandbox, tmp_path):
    data = os.urandom(4 * CHUNK + 4321)
    path = str(tmp_path / "five.bin.age")
    with keyward.create(path, keys=["alice"]) as w:
        w.write(data)
    return path, data


def test_tampered_header(sandbox, five_chunks):
    path, _ = five_chunks
    with open(path, "rb") as f:
        raw = f.read(1 << 16)
    # The padding stanza: no recipient notices, the MAC does.
    pad = raw.index(b"-> keyward-pad") + len(b"-> keyward-pad\n") + 10
    _swap_base64(path, pad)
    with pytest.raises(keyward.DecryptFailed, match="header authentication failed"):
        keyward.open(path)
    _swap_base64(path, pad)
    keyward.open(path).close()
    # The recipient's stanza body: it no longer opens with the key.
    body = raw.index(b"-> X25519 ") + raw[raw.index(b"-> X25519 ") :].index(b"\n") + 5
    original = raw[body : body + 1]
    _swap_base64(path, body)
    with pytest.raises(keyward.DecryptFailed):
        keyward.open(path)
    with open(path, "r+b") as f:
        f.seek(body)
        f.write(original)
    # The version line.
    _flip(path, 5)
    with pytest.raises(keyward.Malformed):
        keyward.open(path)


@pytest.mark.parametrize("chunk", [0, 2])
def test_tampered_chunk_is_refused_and_no_byte_of_it_returned(five_chunks, chunk):
    path, data = five_chunks
    _flip(path, _layout(path) + chunk * SEALED + 1000)
    with keyward.open(path) as f:
        # Everything before the bad chunk reads; the bad chunk raises, naming it.
        f.seek(0)
        assert f.read(chunk * CHUNK) == data[: chunk * CHUNK]
        with pytest.raises(keyward.DecryptFailed, match=f"payload authentication failed at chunk {chunk}"):
            f.read(10)
        # A read spanning it: the chunks before it arrive, not one byte of it or after it.
        buf = bytearray([SENTINEL]) * len(data)
        f.seek(0)
        with pytest.raises(keyward.DecryptFailed):
            f.readinto(buf)
        assert bytes(buf[: chunk * CHUNK]) == data[: chunk * CHUNK]
        assert buf[chunk * CHUNK :] == bytearray([SENTINEL]) * (len(data) - chunk * CHUNK)
        # Every time it is touched again.
        f.seek(chunk * CHUNK + CHUNK - 1)
        with pytest.raises(keyward.DecryptFailed):
            f.read(1)
        # The other chunks are still readable (each is authenticated on its own).
        f.seek((chunk + 1) * CHUNK)
        assert f.read(CHUNK) == data[(chunk + 1) * CHUNK : (chunk + 2) * CHUNK]


def test_tampered_last_chunk_fails_at_open(five_chunks):
    path, _ = five_chunks
    _flip(path, os.path.getsize(path) - 3)
    with pytest.raises(keyward.DecryptFailed, match="payload authentication failed at chunk 4"):
        keyward.open(path)


def test_truncated_and_extended_files(five_chunks, tmp_path):
    path, data = five_chunks
    start = _layout(path)
    cases = {
        # Cut inside a chunk, it is a final chunk that does not authenticate (as with the CLI).
        "mid-chunk": (start + 2 * SEALED + 100, keyward.DecryptFailed, "payload authentication failed at chunk 2"),
        "within a tag's length": (start + 2 * SEALED + 5, keyward.Malformed, "invalid payload size"),
        "at a chunk boundary": (start + 3 * SEALED, keyward.Malformed, "file is truncated"),
        "in the nonce": (start - 5, keyward.Malformed, "truncated|invalid payload size"),
        "in the header": (200, keyward.Malformed, "truncated"),
        "empty": (0, keyward.Malformed, "not an age file"),
    }
    for name, (size, exc, msg) in cases.items():
        cut = str(tmp_path / f"cut-{name}.age")
        shutil.copyfile(path, cut)
        os.truncate(cut, size)
        with pytest.raises(exc, match=msg):
            keyward.open(cut)
    # A whole chunk appended: the old final chunk is not final any more.
    grown = str(tmp_path / "grown.age")
    shutil.copyfile(path, grown)
    with open(grown, "ab") as f:
        f.write(os.urandom(SEALED))
    with pytest.raises(keyward.DecryptFailed):
        keyward.open(grown)


def test_wrong_key(sandbox, tmp_path):
    keygen = require_tool("age-keygen")
    age = require_tool("age")
    ident = str(tmp_path / "stranger.txt")
    subprocess.run([keygen, "-o", ident], check=True, capture_output=True)
    stranger = subprocess.run([keygen, "-y", ident], check=True, capture_output=True, text=True).stdout.strip()
    plain = str(tmp_path / "p.bin")
    with open(plain, "wb") as f:
        f.write(b"not for this keystore")
    subprocess.run([age, "-r", stranger, "-o", plain + ".age", plain], check=True)
    with pytest.raises(keyward.DecryptFailed, match="no identity matched any of the file's recipients") as e:
        keyward.open(plain + ".age")
    assert "keyward keys import" in str(e.value)  # the CLI's hint: what to do


def test_suspended_and_destroyed_keys_are_refused_and_audited(sandbox, tmp_path):
    sandbox.key("shortlived")
    path = str(tmp_path / "s.bin.age")
    with keyward.create(path, keys="shortlived") as w:
        w.write(b"x" * 1000)
    keyward.open(path).close()
    sandbox.cli("keys", "state", "shortlived@v1", "suspended")
    with pytest.raises(keyward.DecryptFailed, match="no identity matched"):
        keyward.open(path)
    # A suspended key cannot encrypt either.
    with pytest.raises(keyward.KeyUnusable, match="suspended and cannot encrypt"):
        keyward.create(str(tmp_path / "new.age"), keys="shortlived")
    sandbox.cli("keys", "state", "shortlived@v1", "active")
    with keyward.open(path) as f:
        assert f.read() == b"x" * 1000
    sandbox.cli("keys", "state", "shortlived@v1", "suspended")
    sandbox.cli("keys", "destroy", "shortlived@v1", "--yes")
    with pytest.raises(keyward.DecryptFailed):
        keyward.open(path)
    records = json.loads(sandbox.cli("--json", "audit", "show", "-n", "40").stdout)
    releases = [r for r in records if r["event"] == "age.key-release" and r.get("path") == path]
    assert [r["outcome"] for r in releases] == ["ok", "refused", "ok", "refused"]
    assert all(r.get("client") == "python" for r in releases)
    assert releases[0]["key"] == "shortlived@v1"


def test_armored_and_passphrase_files_are_refused_with_what_to_do(sandbox, tmp_path):
    age = require_tool("age")
    plain = str(tmp_path / "p.txt")
    with open(plain, "wb") as f:
        f.write(b"text")
    subprocess.run([age, "-a", "-r", sandbox.recipients["alice"], "-o", plain + ".age", plain], check=True)
    with pytest.raises(keyward.InvalidInput, match="armored"):
        keyward.open(plain + ".age")
    require_tool("age-plugin-batchpass")
    subprocess.run([age, "-e", "-j", "batchpass", "-o", plain + ".pw.age", plain], check=True, env={**os.environ, "AGE_PASSPHRASE": "pw"})
    with pytest.raises(keyward.InvalidInput, match="passphrase"):
        keyward.open(plain + ".pw.age")
    with pytest.raises(keyward.NotFound, match="no such file"):
        keyward.open(str(tmp_path / "missing.age"))
    os.mkfifo(str(tmp_path / "fifo"))
    with pytest.raises(keyward.InvalidInput, match="regular file"):
        keyward.open(str(tmp_path / "fifo"))


class FakeDaemon:
    """A socket where a home's daemon would be, answering authenticate, then misbehaving."""

    def __init__(self, home: str, behaviour: str, header_size: int = 0):
        self.header_size = header_size
        self.paths = _paths.daemon_paths(home)
        os.makedirs(self.paths.run_dir, mode=0o700, exist_ok=True)
        with open(self.paths.token, "w") as f:
            f.write("fake-token\n")
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(self.paths.socket)
        self.server.listen(1)
        self.behaviour = behaviour
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _read(self, conn: socket.socket, buf: bytearray) -> dict:
        while b"\r\n\r\n" not in buf:
            buf += conn.recv(4096)
        head, _, rest = bytes(buf).partition(b"\r\n\r\n")
        n = int(head.split(b":")[1])
        while len(rest) < n:
            rest += conn.recv(4096)
        buf[:] = rest[n:]
        return json.loads(rest[:n])

    def _send(self, conn: socket.socket, msg: dict) -> None:
        body = json.dumps(msg).encode()
        conn.sendall(b"Content-Length: %d\r\n\r\n" % len(body) + body)

    def _serve(self) -> None:
        conn, _ = self.server.accept()
        buf = bytearray()
        with conn:
            auth = self._read(conn, buf)
            self._send(conn, {"jsonrpc": "2.0", "id": auth["id"], "result": {"daemonVersion": "fake", "protocolVersion": 1}})
            req = self._read(conn, buf)
            if self.behaviour == "wrong-key":
                self._send(conn, {"jsonrpc": "2.0", "id": req["id"], "result": {"fileKey": base64.b64encode(os.urandom(16)).decode(), "key": "x@v1", "headerSize": self.header_size}})
            elif self.behaviour == "half-answer":
                conn.sendall(b"Content-Length: 500\r\n\r\n{\"jsonrpc\":")
            # "gone": the connection closes with the request unanswered

    def close(self) -> None:
        self.server.close()
        self.thread.join(5)


@pytest.mark.parametrize("behaviour", ["gone", "half-answer"])
def test_daemon_gone_mid_request(five_chunks, tmp_path, behaviour):
    path, _ = five_chunks
    fake = FakeDaemon(str(tmp_path / "fake-home"), behaviour)
    try:
        with pytest.raises(keyward.DaemonUnavailable, match="the connection to the daemon was lost"):
            keyward.open(path, home=str(tmp_path / "fake-home"), start_daemon=False)
    finally:
        fake.close()


def test_a_key_that_does_not_authenticate_the_header_is_not_used(five_chunks, tmp_path):
    path, _ = five_chunks
    fake = FakeDaemon(str(tmp_path / "fake-home"), "wrong-key", header_size=_layout(path) - 16)
    try:
        with pytest.raises(keyward.DecryptFailed, match="header authentication failed"):
            keyward.open(path, home=str(tmp_path / "fake-home"), start_daemon=False)
    finally:
        fake.close()


def test_no_daemon_and_the_daemon_stopping_mid_read(tmp_path):
    sb = Sandbox(tmp_path)
    sb.activate()
    try:
        sb.key("solo")
        data = os.urandom(3 * CHUNK)
        path = sb.path("solo.bin.age")
        with keyward.create(path, keys="solo") as w:
            w.write(data)
        sb.stop()
        with pytest.raises(keyward.DaemonUnavailable, match="no keyward daemon is running") as e:
            keyward.open(path, start_daemon=False)
        assert "keyward daemon start" in str(e.value)
        # Started through the CLI when none runs.
        with keyward.open(path) as f:
            assert f.read(100) == data[:100]
            # The daemon goes away mid-read: the file key was released at open, so the reads
            # already granted go on (and stay authenticated); new opens need the daemon.
            sb.stop()
            f.seek(2 * CHUNK)
            assert f.read() == data[2 * CHUNK :]
        with pytest.raises(keyward.DaemonUnavailable):
            keyward.open(path, start_daemon=False)
        # No CLI to start it with: the message says how to start it.
        os.environ["KEYWARD_CLI"] = str(tmp_path / "no-such-cli")
        with pytest.raises(keyward.DaemonUnavailable, match="could not start the daemon"):
            keyward.open(path)
    finally:
        sb.stop()
        sb.deactivate()


def test_one_connection_for_many_opens_replaced_when_the_daemon_restarts(tmp_path):
    from keyward import _rpc

    sb = Sandbox(tmp_path)
    sb.activate()
    try:
        sb.key("solo")
        data = os.urandom(CHUNK + 1)
        path = sb.path("kept.bin.age")
        with keyward.create(path, keys="solo") as w:
            w.write(data)
        kept = _rpc._shared[sb.home][1]
        for _ in range(3):
            with keyward.open(path) as f:
                assert f.read() == data
        assert _rpc._shared[sb.home][1] is kept and not kept.closed
        # A new daemon: the kept connection is found closed at the next request and replaced once.
        sb.stop()
        sb.cli("daemon", "start")
        with keyward.open(path, start_daemon=False) as f:
            assert f.read() == data
        assert _rpc._shared[sb.home][1] is not kept
    finally:
        sb.stop()
        sb.deactivate()
