"""safetensors files inside age files, loaded to numpy without plaintext on disk.

``load_file(path)`` returns every tensor, as ``safetensors.numpy.load_file`` does;
``safe_open(path)`` reads the header only, then ``get_tensor(name)`` reads and decrypts just
that tensor's bytes (the chunks holding them), straight into the array it returns.

The format (github.com/huggingface/safetensors): an 8-byte little-endian header length N, N
bytes of JSON (``{"name": {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__":
{...}}``), then the tensors' bytes, little-endian, offsets relative to the end of the header.
"""
from __future__ import annotations

import json
import math
import struct
from typing import Any, Dict, List, Optional

from . import errors
from .reader import AgeReader, PathLike
from .reader import open as _open

try:
    import numpy as np
except ImportError:  # pragma: no cover - the extra is not installed
    np = None  # type: ignore[assignment]

# What safetensors.numpy maps (its _TYPES), little-endian as the format stores them.
_DTYPES = {
    "F64": "<f8",
    "F32": "<f4",
    "F16": "<f2",
    "I64": "<i8",
    "U64": "<u8",
    "I32": "<i4",
    "U32": "<u4",
    "I16": "<i2",
    "U16": "<u2",
    "I8": "i1",
    "U8": "u1",
    "BOOL": "?",
    "C64": "<c8",
}
# safetensors refuses larger headers too.
MAX_HEADER = 100_000_000


def _need_numpy() -> None:
    if np is None:
        raise errors.InvalidInput("numpy is not installed", "pip install 'keyward[safetensors]'")


class _Entry:
    __slots__ = ("dtype", "shape", "begin", "end")

    def __init__(self, dtype: str, shape: List[int], begin: int, end: int):
        self.dtype, self.shape, self.begin, self.end = dtype, shape, begin, end


def _bad(reason: str) -> errors.Malformed:
    return errors.Malformed(f"not a valid safetensors file: {reason}", "the decrypted file is not safetensors, or it is damaged")


class safe_open:  # noqa: N801 - the name safetensors uses
    """A safetensors file in an age file, opened lazily: keys() and metadata() from the header,
    get_tensor(name) reading only that tensor's bytes. Use it in a ``with`` block."""

    def __init__(self, filename: PathLike, framework: str = "numpy", device: str = "cpu", *, home: Optional[str] = None, start_daemon: bool = True):
        if framework not in ("numpy", "np"):
            raise errors.InvalidInput(f"framework {framework!r} is not supported", "use framework='numpy'; convert the arrays with torch.from_numpy if needed")
        if device != "cpu":
            raise errors.InvalidInput(f"device {device!r} is not supported", "load to the CPU, then move the arrays")
        _need_numpy()
        self._f: AgeReader = _open(filename, home=home, start_daemon=start_daemon)
        try:
            self._entries, self._metadata, self._data_start = self._read_header()
        except BaseException:
            self._f.close()
            raise

    def _read_header(self):
        f = self._f
        head = f.read(8)
        if len(head) < 8:
            raise _bad("shorter than its header length")
        (n,) = struct.unpack("<Q", head)
        if n > MAX_HEADER or n > f.size - 8:
            raise _bad("header length out of range")
        raw = f.read(n)
        try:
            doc = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise _bad("the header is not JSON") from None
        if not isinstance(doc, dict):
            raise _bad("the header is not a JSON object")
        data_size = f.size - 8 - n
        metadata = doc.pop("__metadata__", None)
        entries: Dict[str, _Entry] = {}
        for name, info in doc.items():
            try:
                dtype, shape, (begin, end) = info["dtype"], [int(d) for d in info["shape"]], info["data_offsets"]
                begin, end = int(begin), int(end)
            except (KeyError, TypeError, ValueError):
                raise _bad(f"tensor {name!r} has no valid dtype, shape or data_offsets") from None
            if not (0 <= begin <= end <= data_size) or any(d < 0 for d in shape):
                raise _bad(f"tensor {name!r} lies outside the file")
            if dtype in _DTYPES and math.prod(shape) * np.dtype(_DTYPES[dtype]).itemsize != end - begin:
                raise _bad(f"tensor {name!r} has {end - begin} bytes for its shape {shape}")
            entries[name] = _Entry(dtype, shape, begin, end)
        return entries, metadata, 8 + n

    def keys(self) -> List[str]:
        """Tensor names, in the order of their data (as safetensors lists them: sorted)."""
        return sorted(self._entries)

    def metadata(self) -> Optional[Dict[str, str]]:
        return self._metadata

    def get_tensor(self, name: str) -> "np.ndarray":
        e = self._entries.get(name)
        if e is None:
            raise KeyError(name)
        dtype = _DTYPES.get(e.dtype)
        if dtype is None:
            raise errors.InvalidInput(f"tensor {name!r} is {e.dtype}, which numpy has no type for", "load it with torch (safetensors.torch), or convert it to a numpy dtype")
        arr = np.empty(e.shape, dtype=np.dtype(dtype))
        if e.end > e.begin:
            # Straight into the array's memory, which no one sees before it is returned: whole
            # chunks are decrypted into it, and no copy of the tensor is ever made.
            if self._f.read_into_new(self._data_start + e.begin, memoryview(arr.reshape(-1).view(np.uint8))) != e.end - e.begin:
                raise errors.truncated()
        return arr

    @property
    def chunks_decrypted(self) -> int:
        """Chunks decrypted so far (the header's, and those of the tensors read)."""
        return self._f.chunks_decrypted

    def close(self) -> None:
        self._f.close()

    def __enter__(self) -> "safe_open":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def load_file(filename: PathLike, device: str = "cpu", *, home: Optional[str] = None, start_daemon: bool = True) -> Dict[str, "np.ndarray"]:
    """Every tensor of a safetensors file inside an age file, as numpy arrays."""
    with safe_open(filename, "numpy", device, home=home, start_daemon=start_daemon) as f:
        # In the order of their bytes: the file is read front to back, once.
        order = sorted(f._entries, key=lambda k: f._entries[k].begin)
        out = {k: f.get_tensor(k) for k in order}
        return {k: out[k] for k in f.keys()}
