"""Keyward for Python: standard age files read and written in-process, keys kept in the daemon.

    import keyward
    with keyward.open("model.pt.age") as f:            # seekable, read-only, decrypts what is read
        state = torch.load(f)
    with keyward.create("ckpt.pt.age", keys=["team"]) as f:  # a standard age file, atomically
        torch.save(state, f)
    tensors = keyward.safetensors.load_file("model.safetensors.age")

The daemon (started through the ``keyward`` CLI when none runs) releases the key of each file
opened, audited; private keys never leave it. See the README's section "Using encrypted models
from Python and in jobs".
"""
from . import safetensors
from .errors import (
    AlreadyExists,
    DaemonUnavailable,
    DecryptFailed,
    IllegalState,
    InvalidInput,
    IoFailed,
    KeystoreLocked,
    KeystoreUnavailable,
    KeyUnusable,
    KeywardError,
    Malformed,
    NotFound,
    Unauthorized,
)
from .reader import AgeReader, open
from .writer import AgeWriter, create

__version__ = "0.1.0"

__all__ = [
    "AgeReader",
    "AgeWriter",
    "AlreadyExists",
    "DaemonUnavailable",
    "DecryptFailed",
    "IllegalState",
    "InvalidInput",
    "IoFailed",
    "KeystoreLocked",
    "KeystoreUnavailable",
    "KeyUnusable",
    "KeywardError",
    "Malformed",
    "NotFound",
    "Unauthorized",
    "create",
    "open",
    "safetensors",
]
