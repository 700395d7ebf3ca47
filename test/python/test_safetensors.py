"""safetensors files made by the real `safetensors` package, encrypted by the Go age, load to
arrays equal to the originals: load_file and lazy access; one tensor reads only its chunks."""
from __future__ import annotations

import os
import subprocess

import pytest
from conftest import require_tool

import keyward

np = pytest.importorskip("numpy")
st = pytest.importorskip("safetensors.numpy")

CHUNK = 64 * 1024


def _encrypt(sandbox, plain: str) -> str:
    age = require_tool("age")
    enc = plain + ".age"
    subprocess.run([age, "-r", sandbox.recipients["alice"], "-o", enc, plain], check=True)
    os.remove(plain)
    return enc


def _tensors() -> dict:
    rng = np.random.default_rng(7)
    return {
        "embed.weight": rng.standard_normal((300, 257)).astype(np.float32),
        "half": rng.standard_normal((33, 65)).astype(np.float16),
        "double": rng.standard_normal(1001),
        "ids": rng.integers(-(2**62), 2**62, size=(17, 3), dtype=np.int64),
        "u8": rng.integers(0, 255, size=70_000, dtype=np.uint8),
        "mask": rng.integers(0, 2, size=(9, 9)).astype(bool),
        "u16": rng.integers(0, 65535, size=(5,), dtype=np.uint16),
        "c": (rng.standard_normal(8) + 1j * rng.standard_normal(8)).astype(np.complex64),
        "scalar": np.array(3.5, dtype=np.float32),
        "empty": np.zeros((0, 4), dtype=np.float32),
    }


def test_load_file_and_safe_open_equal_the_originals(sandbox):
    tensors = _tensors()
    plain = sandbox.path("model.safetensors")
    st.save_file(tensors, plain, metadata={"format": "np", "step": "12"})
    enc = _encrypt(sandbox, plain)

    loaded = keyward.safetensors.load_file(enc)
    assert sorted(loaded) == sorted(tensors)
    for k, v in tensors.items():
        assert loaded[k].dtype == v.dtype and loaded[k].shape == v.shape, k
        assert np.array_equal(loaded[k], v), k

    with keyward.safetensors.safe_open(enc, framework="numpy") as f:
        assert f.keys() == sorted(tensors)
        assert f.metadata() == {"format": "np", "step": "12"}
        for k in reversed(f.keys()):
            assert np.array_equal(f.get_tensor(k), tensors[k]), k
        with pytest.raises(KeyError):
            f.get_tensor("missing")


def test_one_tensor_of_a_large_file_decrypts_only_its_chunks(sandbox):
    rng = np.random.default_rng(1)
    # ~24 MiB in 24 tensors of odd sizes, so that tensor boundaries fall inside chunks.
    tensors = {f"layer.{i:02d}": rng.standard_normal(262_144 + i * 13).astype(np.float32) for i in range(24)}
    plain = sandbox.path("big.safetensors")
    st.save_file(tensors, plain)
    enc = _encrypt(sandbox, plain)
    with keyward.safetensors.safe_open(enc) as f:
        after_header = f.chunks_decrypted
        assert after_header <= 3  # the final chunk at open, and the header's
        t = f.get_tensor("layer.13")
        assert np.array_equal(t, tensors["layer.13"])
        used = f.chunks_decrypted - after_header
        assert used <= t.nbytes // CHUNK + 2, used
    # The whole file, read once front to back: every chunk once, none twice.
    with keyward.open(enc) as raw:
        total_chunks = -(-raw.size // CHUNK)
    with keyward.safetensors.safe_open(enc) as f:
        for k in sorted(tensors, key=lambda k: int(k.split(".")[1])):
            f.get_tensor(k)
        assert f.chunks_decrypted <= total_chunks + 1


def test_dtypes_numpy_lacks_and_bad_files_are_refused_clearly(sandbox):
    # A BF16 tensor (written by hand: numpy has no bfloat16) loads the other tensors, refuses that one.
    import json
    import struct

    header = {"ok": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "bf": {"dtype": "BF16", "shape": [2], "data_offsets": [8, 12]}}
    raw = json.dumps(header).encode()
    plain = sandbox.path("bf16.safetensors")
    with open(plain, "wb") as f:
        f.write(struct.pack("<Q", len(raw)) + raw + np.array([1, 2], dtype="<f4").tobytes() + b"\0\0\0\0")
    enc = _encrypt(sandbox, plain)
    with keyward.safetensors.safe_open(enc) as f:
        assert np.array_equal(f.get_tensor("ok"), [1, 2])
        with pytest.raises(keyward.InvalidInput, match="BF16, which numpy has no type for"):
            f.get_tensor("bf")

    # Not safetensors at all (an encrypted text file): Malformed, saying so.
    plain = sandbox.path("not.safetensors")
    with open(plain, "wb") as f:
        f.write(b"hello, this is not a safetensors file")
    enc = _encrypt(sandbox, plain)
    with pytest.raises(keyward.Malformed, match="not a valid safetensors file"):
        keyward.safetensors.load_file(enc)

    # Offsets that point past the data.
    header = {"t": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}
    raw = json.dumps(header).encode()
    plain = sandbox.path("short.safetensors")
    with open(plain, "wb") as f:
        f.write(struct.pack("<Q", len(raw)) + raw + b"\0" * 8)
    enc = _encrypt(sandbox, plain)
    with pytest.raises(keyward.Malformed, match="lies outside the file"):
        keyward.safetensors.load_file(enc)
