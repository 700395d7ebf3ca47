"""``keyward.open``: a seekable, read-only file object over a binary age file.

At open, the daemon releases the file's key (after unwrapping its header with the keystore or a
service identity; audited), the header MAC is checked here with it, and the final chunk is
authenticated, so the plaintext size is known and a file cut short (even at a chunk boundary)
fails at once. After that, a read decrypts only the 64 KiB chunks it touches; each chunk is
authenticated before any byte of it reaches the caller, and a chunk that fails raises
``DecryptFailed`` naming it. The plaintext exists only in the caller's buffers and a few
chunks of cache; nothing is written anywhere.
"""
from __future__ import annotations

import base64
import io
import os
import stat
import threading
from collections import OrderedDict
from typing import Optional, Union

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from . import _age, _rpc, errors

# Sealed chunks read with one pread (2 MiB): large reads go at the speed of the disk.
BATCH_CHUNKS = 32
# Partly read chunks kept decrypted, for small reads that follow each other (pickle, zip).
CACHE_CHUNKS = 4

PathLike = Union[str, "os.PathLike[str]"]


def _io_error(e: OSError, action: str, path: str) -> errors.KeywardError:
    if isinstance(e, FileNotFoundError):
        return errors.NotFound(f"{action}: no such file: {path}", "check the path")
    if isinstance(e, PermissionError):
        return errors.IoFailed(f"{action}: permission denied: {path}", "check the file and directory permissions")
    if isinstance(e, IsADirectoryError):
        return errors.InvalidInput(f"{action}: is a directory: {path}", "give a file, not a directory")
    return errors.IoFailed(f"{action}: {e.strerror or type(e).__name__}: {path}")


def _pread_full(fd: int, buf: memoryview, offset: int) -> int:
    """Reads into all of `buf` from `offset` unless the file ends first; returns the bytes read."""
    done = 0
    while done < len(buf):
        if hasattr(os, "preadv"):
            n = os.preadv(fd, [buf[done:]], offset + done)
        else:  # pragma: no cover - platforms without preadv
            data = os.pread(fd, len(buf) - done, offset + done)
            buf[done : done + len(data)] = data
            n = len(data)
        if n == 0:
            break
        done += n
    return done


class AgeReader(io.RawIOBase):
    """A binary age file, decrypted chunk by chunk as it is read. Made by :func:`keyward.open`."""

    mode = "rb"

    def __init__(self, fd: int, name: str, file_size: int, header: _age.Header, file_key: bytearray, key_ref: str):
        super().__init__()
        self.name = name
        self.key = key_ref
        """Which key opened the file: ``name@vN``, or ``kms:NAME@vN`` for a service identity."""
        self.chunks_decrypted = 0
        """How many chunks this reader has decrypted (and authenticated) so far."""
        self._fd = fd
        self._lock = threading.RLock()
        self._pos = 0
        self._cache: "OrderedDict[int, bytes]" = OrderedDict()
        nonce = bytearray(_age.NONCE_SIZE)
        if _pread_full(fd, memoryview(nonce), header.size) < _age.NONCE_SIZE:
            raise errors.truncated()
        size = _age.plaintext_size(file_size - header.size)
        if size is None:
            raise errors.bad_payload_size()
        self._size = size
        self._chunks = _age.chunk_count(size)
        self._start = header.size + _age.NONCE_SIZE
        self._aead = ChaCha20Poly1305(_age.payload_key(bytes(file_key), bytes(nonce)))
        self._into = hasattr(self._aead, "decrypt_into")
        self._scratch = bytearray(_age.CHUNK_SIZE)
        self._zeros = memoryview(bytes(_age.CHUNK_SIZE))
        self._batch = bytearray()
        # The final chunk now: it says the file ends where its size says (not cut at a boundary).
        self._chunk(self._chunks - 1)

    # ---- file object ----------------------------------------------------------------------

    @property
    def size(self) -> int:
        """The plaintext size in bytes."""
        return self._size

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def writable(self) -> bool:
        return False

    def tell(self) -> int:
        self._check_open()
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self._check_open()
        with self._lock:
            if whence == io.SEEK_SET:
                pos = offset
            elif whence == io.SEEK_CUR:
                pos = self._pos + offset
            elif whence == io.SEEK_END:
                pos = self._size + offset
            else:
                raise ValueError(f"invalid whence ({whence}, should be 0, 1 or 2)")
            if pos < 0:
                raise ValueError(f"negative seek position {pos}")
            self._pos = pos
            return pos

    def readinto(self, b) -> int:  # type: ignore[override]
        """Fills `b` from the current position (fully, unless the end comes first)."""
        self._check_open()
        out = memoryview(b).cast("B")
        with self._lock:
            n = self._read_at(self._pos, out)
            self._pos += n
            return n

    def read(self, size: Optional[int] = -1) -> bytes:
        self._check_open()
        with self._lock:
            left = max(0, self._size - self._pos)
            want = left if size is None or size < 0 else min(size, left)
            buf = bytearray(want)
            n = self.readinto(buf)
            return bytes(buf) if n == want else bytes(buf[:n])

    def readall(self) -> bytes:
        return self.read(-1)

    def read1(self, size: int = -1) -> bytes:
        return self.read(size)

    def readline(self, size: Optional[int] = -1) -> bytes:
        self._check_open()
        with self._lock:
            parts = []
            limit = -1 if size is None or size < 0 else size
            while self._pos < self._size and limit != 0:
                idx, off = divmod(self._pos, _age.CHUNK_SIZE)
                chunk = self._chunk(idx)
                end = len(chunk) if limit < 0 else min(len(chunk), off + limit)
                nl = chunk.find(b"\n", off, end)
                stop = nl + 1 if nl >= 0 else end
                parts.append(chunk[off:stop])
                self._pos += stop - off
                if limit > 0:
                    limit -= stop - off
                if nl >= 0:
                    break
            return b"".join(parts)

    def close(self) -> None:
        if self.closed:
            return
        with self._lock:
            try:
                os.close(self._fd)
            finally:
                self._cache.clear()
                self._scratch[:] = self._zeros
                self._batch = bytearray()
                super().close()

    def _check_open(self) -> None:
        if self.closed:
            raise ValueError("I/O operation on closed file.")

    def __repr__(self) -> str:
        return f"<keyward.AgeReader name={self.name!r} size={self._size}>"

    def __reduce__(self):  # type: ignore[override]
        raise TypeError("a keyward file object cannot be pickled")

    # ---- chunks ----------------------------------------------------------------------------

    def _sealed_size(self, idx: int) -> int:
        if idx < self._chunks - 1:
            return _age.SEALED_CHUNK_SIZE
        return self._size - idx * _age.CHUNK_SIZE + _age.TAG_SIZE

    def _open(self, idx: int, sealed: memoryview, into: Optional[memoryview] = None) -> memoryview:
        """Authenticates and decrypts chunk `idx` into `into` (its exact size), else into the
        scratch buffer; returns its plaintext there. On failure what was written is zeroed
        before the error is raised, so no byte of the chunk is ever seen."""
        last = idx == self._chunks - 1
        n = len(sealed) - _age.TAG_SIZE
        plain = memoryview(self._scratch)[:n] if into is None else into
        try:
            if self._into:
                self._aead.decrypt_into(_age.chunk_nonce(idx, last), sealed, None, plain)
            else:  # pragma: no cover - cryptography < 45
                plain[:] = self._aead.decrypt(_age.chunk_nonce(idx, last), bytes(sealed), None)
        except InvalidTag:
            plain[:] = self._zeros[:n]
            raise self._explain(idx, last, sealed) from None
        self.chunks_decrypted += 1
        return plain

    def _explain(self, idx: int, last: bool, sealed: memoryview) -> errors.KeywardError:
        """A full chunk that opens with the other final flag is intact but misplaced: the file was cut or extended."""
        if len(sealed) == _age.SEALED_CHUNK_SIZE:
            try:
                self._aead.decrypt(_age.chunk_nonce(idx, not last), bytes(sealed), None)
            except InvalidTag:
                pass
            else:
                return errors.truncated() if last else errors.trailing_data()
        return errors.payload_auth_failed(idx)

    def _read_sealed(self, first: int, count: int) -> memoryview:
        """The sealed chunks first .. first+count-1, read with one pread."""
        total = sum(self._sealed_size(i) for i in range(first, first + count)) if first + count >= self._chunks else count * _age.SEALED_CHUNK_SIZE
        if len(self._batch) < total:
            self._batch = bytearray(max(total, min(BATCH_CHUNKS, self._chunks) * _age.SEALED_CHUNK_SIZE))
        view = memoryview(self._batch)[:total]
        try:
            got = _pread_full(self._fd, view, self._start + first * _age.SEALED_CHUNK_SIZE)
        except OSError as e:
            raise _io_error(e, "read", self.name) from None
        if got < total:
            raise errors.truncated()  # the file shrank after it was opened
        return view

    def _chunk(self, idx: int) -> bytes:
        """One chunk's plaintext, from the cache or decrypted (then cached)."""
        hit = self._cache.get(idx)
        if hit is not None:
            self._cache.move_to_end(idx)
            return hit
        plain = bytes(self._open(idx, self._read_sealed(idx, 1)))
        self._remember(idx, plain)
        return plain

    def _remember(self, idx: int, plain: bytes) -> None:
        self._cache[idx] = plain
        self._cache.move_to_end(idx)
        while len(self._cache) > CACHE_CHUNKS:
            self._cache.popitem(last=False)

    def read_into_new(self, pos: int, out: memoryview) -> int:
        """Fills `out` from plaintext offset `pos`, as readinto does, for a buffer the caller has
        just made and shares with no one until this returns (safetensors' arrays): whole chunks
        are decrypted straight into it. On an error its content is undefined (zeros where a
        chunk failed); the caller drops it."""
        self._check_open()
        with self._lock:
            return self._read_at(pos, memoryview(out).cast("B"), private=True)

    def _read_at(self, pos: int, out: memoryview, private: bool = False) -> int:
        end = min(pos + len(out), self._size)
        if end <= pos:
            return 0
        done = 0
        last_needed = (end - 1) // _age.CHUNK_SIZE
        while pos < end:
            idx, off = divmod(pos, _age.CHUNK_SIZE)
            hit = self._cache.get(idx)
            if hit is not None:
                take = min(len(hit) - off, end - pos)
                out[done : done + take] = hit[off : off + take]
                self._cache.move_to_end(idx)
            else:
                # The chunks from here that are not cached, read in one go and opened one by one.
                count = 1
                while count < BATCH_CHUNKS and idx + count <= last_needed and (idx + count) not in self._cache:
                    count += 1
                sealed = self._read_sealed(idx, count)
                at = 0
                used_scratch = False
                for k in range(idx, idx + count):
                    size = self._sealed_size(k)
                    n = size - _age.TAG_SIZE
                    chunk_off = off if k == idx else 0
                    take = min(n - chunk_off, end - pos)
                    if private and chunk_off == 0 and take == n:
                        # A whole chunk, into a buffer no one else sees until this returns (a
                        # tensor's new array): decrypted straight into it, not through the scratch
                        # buffer and a copy. (cryptography writes before it checks the tag, and
                        # zeroes on failure: a caller's own buffer never gets even that.)
                        self._open(k, sealed[at : at + size], out[done : done + n])
                    else:
                        plain = self._open(k, sealed[at : at + size])
                        used_scratch = True
                        out[done : done + take] = plain[chunk_off : chunk_off + take]
                        if chunk_off + take < n or chunk_off > 0:
                            self._remember(k, bytes(plain))  # partly used: the next read likely wants the rest
                    at += size
                    done += take
                    pos += take
                if used_scratch:
                    self._scratch[:] = self._zeros
                continue
            done += take
            pos += take
        return done


def open(path: PathLike, mode: str = "rb", *, home: Optional[str] = None, start_daemon: bool = True) -> AgeReader:  # noqa: A001 - keyward.open, like io.open
    """Opens a binary age file for reading, decrypted chunk by chunk as it is read.

    The daemon of ``home`` (default: the CLI's, by the CLI's rules) releases the file key; it is
    started through the CLI when none runs and ``start_daemon``. Raises :class:`NotFound`,
    :class:`DecryptFailed` (no usable key opens it, or the header was modified),
    :class:`Malformed` (not age, truncated), :class:`DaemonUnavailable`.
    """
    if mode not in ("rb", "r"):
        raise ValueError("keyward.open reads only ('rb'); write with keyward.create")
    shown = os.fspath(path)
    full = os.path.abspath(shown)
    try:
        # O_NONBLOCK: a FIFO must not hang the open (it is refused below); files ignore it.
        fd = os.open(full, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as e:
        raise _io_error(e, "read", shown) from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise errors.InvalidInput("random access needs a regular file, not a pipe or a device", "decrypt it whole with keyward decrypt instead")
        header = _read_header(fd)
        r = _rpc.call(home, _rpc.METHOD_FILE_KEY, {"path": full, "program": _rpc.program_name()}, start=start_daemon)
        file_key = bytearray(base64.b64decode(r["fileKey"]))
        try:
            # The header read here must be the one the daemon opened, and the key must be its.
            if len(file_key) != _age.FILE_KEY_SIZE or int(r["headerSize"]) != header.size or not _age.verify_mac(header, bytes(file_key)):
                raise errors.header_auth_failed()
            return AgeReader(fd, shown, st.st_size, header, file_key, str(r.get("key", "")))
        finally:
            file_key[:] = bytes(len(file_key))
    except BaseException:
        os.close(fd)
        raise


def _read_header(fd: int) -> _age.Header:
    want = 4096
    while True:
        try:
            data = os.pread(fd, want, 0)
        except OSError as e:
            raise errors.IoFailed(f"read: {e.strerror}") from None
        header = _age.find_header(data, len(data) < want)
        if header is not None:
            return header
        want = min(want * 4, _age.MAX_HEADER_BYTES)
