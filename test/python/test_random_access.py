"""Random access: every offset/length pattern gives the bytes a full decrypt gives, and a read
decrypts only the chunks it touches (counted)."""
from __future__ import annotations

import io
import os
import subprocess

import pytest
from conftest import require_tool

import keyward

CHUNK = 64 * 1024


@pytest.fixture(scope="module")
def sample(sandbox):
    """3 chunks and a bit, written by the Go age; its plaintext from `age -d`."""
    age = require_tool("age")
    data = os.urandom(3 * CHUNK + 1000)
    plain = sandbox.path("ra.bin")
    with open(plain, "wb") as f:
        f.write(data)
    enc = plain + ".age"
    subprocess.run([age, "-r", sandbox.recipients["alice"], "-o", enc, plain], check=True)
    full = subprocess.run([age, "-d", "-i", sandbox.identity_file("alice"), enc], check=True, capture_output=True).stdout
    assert full == data
    return enc, full


def test_every_offset_and_length(sample):
    enc, full = sample
    size = len(full)
    edges = sorted({0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK - 1, 2 * CHUNK, 2 * CHUNK + 7, 3 * CHUNK - 1, 3 * CHUNK, size - 1, size, size + 5})
    lengths = [0, 1, 2, 15, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK + 3, size]
    with keyward.open(enc) as f:
        for start in edges:
            for n in lengths:
                f.seek(start)
                assert f.read(n) == full[start : start + n], (start, n)
                assert f.tell() == start + len(full[start : start + n])
                # readinto into a larger buffer fills what exists and says how much
                buf = bytearray(n + 3)
                f.seek(start)
                got = f.readinto(buf)
                assert bytes(buf[:got]) == full[start : start + n + 3]
        # whence, negative seeks, reading past the end
        assert f.seek(-10, io.SEEK_END) == size - 10 and f.read() == full[-10:]
        f.seek(CHUNK)
        assert f.seek(5, io.SEEK_CUR) == CHUNK + 5 and f.read(4) == full[CHUNK + 5 : CHUNK + 9]
        with pytest.raises(ValueError):
            f.seek(-1)
        f.seek(size + 100)
        assert f.read() == b"" and f.read(10) == b""
        f.seek(0)
        assert f.read() == full


def test_readline_and_iteration(sandbox):
    lines = [(b"x" * (i * 997 % 70000)) + b"\n" for i in range(40)] + [b"no newline at the end"]
    path = sandbox.path("lines.txt.age")
    with keyward.create(path, keys=["alice"]) as w:
        w.writelines(lines)
    with keyward.open(path) as f:
        assert list(f) == lines
        f.seek(0)
        assert f.readline() == lines[0] and f.readline(5) == lines[1][:5] and f.readline() == lines[1][5:]
        f.seek(0)
        assert f.readlines() == lines


def test_a_read_decrypts_only_the_chunks_it_touches(sandbox):
    data = os.urandom(40 * CHUNK + 123)
    path = sandbox.path("count.bin.age")
    with keyward.create(path, keys=["alice"]) as w:
        w.write(data)
    with keyward.open(path) as f:
        assert f.chunks_decrypted == 1  # the final chunk, at open
        f.seek(10 * CHUNK + 100)
        assert f.read(3 * CHUNK) == data[10 * CHUNK + 100 : 13 * CHUNK + 100]
        assert f.chunks_decrypted == 1 + 4  # chunks 10, 11, 12, 13
        before = f.chunks_decrypted
        f.seek(13 * CHUNK + 50)
        assert f.read(10) == data[13 * CHUNK + 50 : 13 * CHUNK + 60]  # chunk 13 was cached (read in part)
        assert f.chunks_decrypted == before
        f.seek(len(data) - 5)
        assert f.read() == data[-5:]  # the final chunk, cached since open
        assert f.chunks_decrypted == before
        f.seek(0)
        f.read()
        assert f.chunks_decrypted <= before + 41
