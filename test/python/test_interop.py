"""Interop both ways with the reference age (Go) and the keyward CLI: files `age` writes open in
Python; files Python writes open with `age -d` and `keyward decrypt`. Sizes around the chunk
size, X25519 and post-quantum recipients, keys made by Keyward and identities made by age-keygen."""
from __future__ import annotations

import io
import os
import pickle
import subprocess
import sys

import pytest
from conftest import require_tool

import keyward

CHUNK = 64 * 1024
SIZES = [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK, 3 * 1024 * 1024 + 5]


def _data(size: int) -> bytes:
    return os.urandom(size)


@pytest.fixture(scope="module")
def imported(sandbox):
    """An identity made by age-keygen (Go), imported into the keystore."""
    keygen = require_tool("age-keygen")
    ident = sandbox.path("carol.txt")
    subprocess.run([keygen, "-o", ident], check=True, capture_output=True)
    recipient = subprocess.run([keygen, "-y", ident], check=True, capture_output=True, text=True).stdout.strip()
    sandbox.cli("keys", "import", "carol", ident)
    return recipient


@pytest.mark.parametrize("kind", ["alice", "pq", "carol"])
def test_files_age_writes_open_in_python(sandbox, imported, kind):
    age = require_tool("age")
    recipient = imported if kind == "carol" else sandbox.recipients[kind]
    for size in SIZES:
        data = _data(size)
        plain = sandbox.path(f"go-{kind}-{size}.bin")
        with open(plain, "wb") as f:
            f.write(data)
        enc = plain + ".age"
        subprocess.run([age, "-r", recipient, "-o", enc, plain], check=True)
        os.remove(plain)
        with keyward.open(enc) as f:
            assert f.size == size
            assert f.read() == data, size
            assert f.key.startswith(kind + "@v")
            # and again, backwards, in odd pieces
            pieces = []
            for start in range(size - (size % 7919), -1, -7919):
                f.seek(start)
                pieces.append(f.read(7919))
            assert b"".join(reversed(pieces)) == data


@pytest.mark.parametrize("kind", ["alice", "pq"])
def test_files_python_writes_open_with_age_and_keyward(sandbox, kind):
    age = require_tool("age")
    identity = sandbox.identity_file(kind)
    for size in SIZES:
        data = _data(size)
        enc = sandbox.path(f"py-{kind}-{size}.bin.age")
        with keyward.create(enc, keys=[kind]) as w:
            # In uneven writes, some across chunk boundaries, some empty.
            view = memoryview(data)
            step = 1
            while view:
                w.write(view[:step])
                view = view[step:]
                w.write(b"")
                step = step * 3 + 1
        r = subprocess.run([age, "-d", "-i", identity, enc], capture_output=True)
        assert r.returncode == 0, r.stderr
        assert r.stdout == data, size
        out = sandbox.path(f"py-{kind}-{size}.bin")
        sandbox.cli("decrypt", enc, "-o", out)
        with open(out, "rb") as f:
            assert f.read() == data
        os.remove(out)


def test_recipients_are_taken_as_given(sandbox):
    """To an age1... recipient string (no keystore key): age opens it with that identity."""
    age = require_tool("age")
    keygen = require_tool("age-keygen")
    ident = sandbox.path("dave.txt")
    subprocess.run([keygen, "-o", ident], check=True, capture_output=True)
    dave = subprocess.run([keygen, "-y", ident], check=True, capture_output=True, text=True).stdout.strip()
    enc = sandbox.path("to-dave.age")
    with keyward.create(enc, recipients=dave, keys="alice") as w:
        w.write(b"for dave and alice")
    assert subprocess.run([age, "-d", "-i", ident, enc], check=True, capture_output=True).stdout == b"for dave and alice"
    with keyward.open(enc) as f:
        assert f.read() == b"for dave and alice"


def test_pickle_and_numpy_through_encrypted_files(sandbox):
    np = pytest.importorskip("numpy")
    state = {"step": 1200, "weights": [1.5, 2.5] * 50_000, "name": "ckpt"}
    path = sandbox.path("ckpt.pkl.age")
    with keyward.create(path, keys=["alice"]) as f:
        pickle.dump(state, f, protocol=5)
    with keyward.open(path) as f:
        assert pickle.load(f) == state
    arr = np.arange(300_000, dtype=np.float32).reshape(600, 500)
    path = sandbox.path("arr.npy.age")
    with keyward.create(path, keys=["alice"]) as f:
        np.save(f, arr)
    with keyward.open(path) as f:
        assert np.array_equal(np.load(f), arr)
    # np.savez writes a zip, which needs tell() on write and seek() on read.
    path = sandbox.path("arrs.npz.age")
    with keyward.create(path, keys=["alice"]) as f:
        np.savez(f, a=arr, b=arr[:3])
    with keyward.open(path) as f, np.load(f) as z:
        assert np.array_equal(z["a"], arr) and np.array_equal(z["b"], arr[:3])
    # io wrappers work too (text mode over the binary file object).
    path = sandbox.path("notes.txt.age")
    with keyward.create(path, keys=["alice"]) as f:
        f.write("line one\nline two\n".encode())
    with keyward.open(path) as f:
        assert io.TextIOWrapper(f, encoding="utf-8").readlines() == ["line one\n", "line two\n"]


def test_a_plugin_identity_in_the_keystore_both_ways(sandbox):
    """A key the daemon opens through an age plugin (age-plugin-pq): the daemon asks this client
    for the environment plugins run in, and the client answers (it would hang otherwise)."""
    age, keygen, plugin = require_tool("age"), require_tool("age-keygen"), require_tool("age-plugin-pq")
    native = sandbox.path("pq-native.txt")
    subprocess.run([keygen, "-pq", "-o", native], check=True, capture_output=True)
    recipient = subprocess.run([keygen, "-y", native], check=True, capture_output=True, text=True).stdout.strip()
    conv = subprocess.run([plugin, "-identity", native], check=True, capture_output=True)
    with open(sandbox.path("pq-plugin.txt"), "wb") as f:
        f.write(conv.stdout)
    sandbox.cli("keys", "import", "pqplug", sandbox.path("pq-plugin.txt"))
    data = _data(CHUNK + 5)
    plain = sandbox.path("plug.bin")
    with open(plain, "wb") as f:
        f.write(data)
    subprocess.run([age, "-r", recipient, "-o", plain + ".age", plain], check=True)
    with keyward.open(plain + ".age") as f:
        assert f.read() == data and f.key.startswith("pqplug@v")
    # And sealed to the key, through the plugin: age opens it with the native identity.
    out = sandbox.path("plug-py.bin.age")
    with keyward.create(out, keys="pqplug") as w:
        w.write(data)
    assert subprocess.run([age, "-d", "-i", native, out], check=True, capture_output=True).stdout == data


def test_a_process_closes_its_kept_connection_at_exit(sandbox):
    """The connection kept between calls is closed as the process exits: no ResourceWarning
    (python -X dev shows them), in the process that made it and in a forked child."""
    plain = sandbox.path("atexit.bin")
    with open(plain, "wb") as f:
        f.write(b"kept connection")
    enc = plain + ".age"
    with keyward.create(enc, keys=["alice"]) as w:
        w.write(b"kept connection")
    code = (
        "import os, sys, keyward\n"
        "assert keyward.open(sys.argv[1]).read() == b'kept connection'\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    assert keyward.open(sys.argv[1]).read() == b'kept connection'\n"
        "    sys.exit(0)\n"
        "assert os.waitpid(pid, 0)[1] == 0\n"
    )
    env = {**os.environ, "PYTHONPATH": os.path.dirname(os.path.dirname(keyward.__file__))}
    r = subprocess.run([sys.executable, "-X", "dev", "-c", code, enc], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "ResourceWarning" not in r.stderr, r.stderr
