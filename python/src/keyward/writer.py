"""``keyward.create``: a writable file object that produces a standard age file.

The daemon seals the header (a fresh file key wrapped to the recipients and keystore keys given,
as ``keyward encrypt`` writes it); the payload is encrypted here, 64 KiB at a time, into a
temp file beside the target. ``close()`` (or the end of a ``with`` block) seals the final
chunk, fsyncs, and renames the temp file into place; an exception in the ``with`` block, an
error while writing, or a file object dropped without ``close()`` removes the temp file and
leaves the target as it was. ``age -d`` and ``keyward decrypt`` read the result.
"""
from __future__ import annotations

import base64
import io
import os
import secrets
import warnings
from typing import Iterable, Optional, Union

from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from . import _age, _rpc, errors
from .reader import PathLike, _io_error

# Sealed chunks are written out in batches of about this size.
WRITE_BATCH = 1 << 20


def _names(v: Union[str, Iterable[str], None]) -> list:
    if v is None:
        return []
    if isinstance(v, str):
        return [v]
    return [str(x) for x in v]


class AgeWriter(io.RawIOBase):
    """An age file being written. Made by :func:`keyward.create`."""

    mode = "wb"

    def __init__(self, target: str, shown: str, header: bytes, file_key: bytearray, overwrite: bool):
        super().__init__()
        self.name = shown
        self._target = target
        self._overwrite = overwrite
        self._temp = os.path.join(os.path.dirname(target), f".{os.path.basename(target)}.{secrets.token_hex(6)}.keyward-tmp")
        nonce = secrets.token_bytes(_age.NONCE_SIZE)
        self._aead = ChaCha20Poly1305(_age.payload_key(bytes(file_key), nonce))
        self._pending = bytearray()
        self._out = bytearray(header + nonce)
        self._counter = 0
        self._written = 0
        self._done = False
        # A forked child that drops its copy of this object must not remove the parent's file.
        self._pid = os.getpid()
        try:
            self._fd = os.open(self._temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o644)
        except OSError as e:
            self._done = True
            super().close()
            raise _io_error(e, "write", shown) from None

    def writable(self) -> bool:
        return True

    def readable(self) -> bool:
        return False

    def seekable(self) -> bool:
        return False

    def tell(self) -> int:
        """Plaintext bytes written so far."""
        self._check_open()
        return self._written

    def write(self, b) -> int:  # type: ignore[override]
        self._check_open()
        data = memoryview(b).cast("B")
        self._pending += data
        self._written += len(data)
        # A chunk is sealed once more data follows it: only then is it known not to be the last.
        full = (len(self._pending) - 1) // _age.CHUNK_SIZE
        if full > 0:
            for i in range(full):
                self._seal(memoryview(self._pending)[i * _age.CHUNK_SIZE : (i + 1) * _age.CHUNK_SIZE], last=False)
            del self._pending[: full * _age.CHUNK_SIZE]
        if len(self._out) >= WRITE_BATCH:
            self._flush_out()
        return len(data)

    def flush(self) -> None:
        if not self.closed and not self._done:
            self._flush_out()

    def close(self) -> None:
        """Finishes the file: final chunk, fsync, rename into place. On failure nothing is left."""
        if self.closed or self._done:
            super().close()
            return
        if os.getpid() != self._pid:
            raise errors.IllegalState(f"{self.name} was created by process {self._pid}", "close it in the process that created it")
        try:
            self._seal(memoryview(self._pending), last=True)
            self._pending = bytearray()
            self._flush_out()
            os.fsync(self._fd)
            os.close(self._fd)
            self._fd = -1
            self._commit()
        except BaseException:
            self.abort()
            raise
        self._done = True
        super().close()

    def abort(self) -> None:
        """Drops what was written: the temp file is removed, the target is left as it was."""
        if self._done:
            return
        self._done = True
        self._pending = bytearray()
        self._out = bytearray()
        if self._fd >= 0:
            try:
                os.close(self._fd)
            except OSError:
                pass
            self._fd = -1
        if os.getpid() == self._pid:
            try:
                os.unlink(self._temp)
            except OSError:
                pass
        super().close()

    def __exit__(self, exc_type, exc, tb) -> None:  # type: ignore[override]
        if exc_type is not None:
            self.abort()
        else:
            self.close()

    def __del__(self) -> None:
        # Dropped without close(): an interrupted write is never taken for a finished file.
        if not getattr(self, "_done", True):
            warnings.warn(f"keyward: {self.name} was not closed; the partial file was removed", ResourceWarning, stacklevel=2)
            self.abort()

    def __repr__(self) -> str:
        return f"<keyward.AgeWriter name={self.name!r}>"

    def __reduce__(self):  # type: ignore[override]
        raise TypeError("a keyward file object cannot be pickled")

    def _check_open(self) -> None:
        if self.closed or self._done:
            raise ValueError("I/O operation on closed file.")

    def _seal(self, plain: memoryview, last: bool) -> None:
        self._out += self._aead.encrypt(_age.chunk_nonce(self._counter, last), bytes(plain), None)
        self._counter += 1

    def _flush_out(self) -> None:
        view = memoryview(self._out)
        try:
            while view:
                n = os.write(self._fd, view)
                view = view[n:]
        except OSError as e:
            raise _io_error(e, "write", self.name) from None
        finally:
            view.release()
        self._out = bytearray()

    def _commit(self) -> None:
        try:
            if self._overwrite:
                os.replace(self._temp, self._target)
            else:
                # link() refuses to replace a file that appeared meanwhile.
                os.link(self._temp, self._target)
                os.unlink(self._temp)
        except FileExistsError:
            raise errors.AlreadyExists(f"write: already exists: {self.name}", "choose another path, or pass overwrite=True") from None
        except OSError as e:
            raise _io_error(e, "write", self.name) from None
        try:
            d = os.open(os.path.dirname(self._target), os.O_RDONLY)
            try:
                os.fsync(d)
            finally:
                os.close(d)
        except OSError:
            pass


def create(
    path: PathLike,
    recipients: Union[str, Iterable[str], None] = None,
    keys: Union[str, Iterable[str], None] = None,
    *,
    overwrite: bool = False,
    home: Optional[str] = None,
    start_daemon: bool = True,
) -> AgeWriter:
    """Creates a standard age file for `recipients` (``age1...``, ``age1pq1...``) and keystore `keys`.

    Use it in a ``with`` block; the file appears only when the block ends without an exception.
    An existing file is replaced only with ``overwrite=True``. Raises :class:`InvalidInput` (no
    or bad recipients), :class:`KeyUnusable` (a key that cannot encrypt), :class:`AlreadyExists`,
    :class:`DaemonUnavailable`.
    """
    shown = os.fspath(path)
    target = os.path.abspath(shown)
    r_list, k_list = _names(recipients), _names(keys)
    if not r_list and not k_list:
        raise errors.InvalidInput("no recipient given", "pass recipients=['age1...'] or keys=['NAME']")
    if not overwrite and os.path.lexists(target):
        raise errors.AlreadyExists(f"write: already exists: {shown}", "choose another path, or pass overwrite=True")
    if not os.path.isdir(os.path.dirname(target)):
        raise errors.NotFound(f"write: no such directory: {os.path.dirname(target)}", "create it first")
    r = _rpc.call(home, _rpc.METHOD_SEAL, {"recipients": r_list, "keys": k_list, "path": target, "program": _rpc.program_name()}, start=start_daemon)
    header = base64.b64decode(r["header"])
    file_key = bytearray(base64.b64decode(r["fileKey"]))
    try:
        h = _age.find_header(header, True)
        if h is None or h.size != len(header) or len(file_key) != _age.FILE_KEY_SIZE or not _age.verify_mac(h, bytes(file_key)):
            raise errors.KeywardError("the daemon returned a header that does not match its file key", "report this as a keyward bug")
        return AgeWriter(target, shown, header, file_key, overwrite)
    finally:
        file_key[:] = bytes(len(file_key))
