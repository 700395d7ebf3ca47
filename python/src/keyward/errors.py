"""Keyward's exceptions: the daemon's error codes (daemon/protocol/errors.ts) as classes.

``str(e)`` reads as the CLI's one-line errors do: the message, then what to do in parentheses.
Messages never hold a key or plaintext.
"""
from __future__ import annotations

from typing import Optional


class KeywardError(Exception):
    """Anything Keyward refuses or cannot do. ``code`` is the daemon's error code."""

    code = 1005

    def __init__(self, message: str, hint: Optional[str] = None, code: Optional[int] = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class DaemonUnavailable(KeywardError):
    """No daemon answers, its token cannot be read, or the connection was lost."""

    code = 1011


class Unauthorized(DaemonUnavailable):
    code = 1001


class NotFound(KeywardError, FileNotFoundError):
    code = 1002


class AlreadyExists(KeywardError, FileExistsError):
    code = 1003


class InvalidInput(KeywardError, ValueError):
    code = 1004


class IllegalState(KeywardError):
    code = 1005


class KeyUnusable(KeywardError):
    """The key exists but its state forbids this use (suspended, destroyed, ...)."""

    code = 1006


class DecryptFailed(KeywardError):
    """No usable key opens the file, or it was modified (header or payload authentication failed)."""

    code = 1007


class Malformed(KeywardError):
    """Not an age file, truncated, or with data appended."""

    code = 1008


class KeystoreUnavailable(KeywardError):
    code = 1009


class KeystoreLocked(KeystoreUnavailable):
    code = 1010


class IoFailed(KeywardError, OSError):
    code = 1012


_BY_CODE = {
    c.code: c
    for c in (
        Unauthorized,
        NotFound,
        AlreadyExists,
        InvalidInput,
        IllegalState,
        KeyUnusable,
        DecryptFailed,
        Malformed,
        KeystoreUnavailable,
        KeystoreLocked,
        DaemonUnavailable,
        IoFailed,
    )
}
_BY_CODE[-32602] = InvalidInput  # JSON-RPC invalid params


def from_wire(code: int, message: str, hint: Optional[str]) -> KeywardError:
    """The exception for an error the daemon sent."""
    cls = _BY_CODE.get(code, KeywardError)
    return cls(message, hint, code)


# The age engine's messages (daemon/age/errors.ts), for what this package finds itself.

def truncated() -> Malformed:
    return Malformed("file is truncated", "the file ends early: copy it again from its source")


def bad_payload_size() -> Malformed:
    return Malformed("invalid payload size: the file is truncated or has data appended", "copy the file again from its source")


def trailing_data() -> Malformed:
    return Malformed("trailing data after the end of the encrypted file", "something was appended to the file; copy it again from its source")


def not_age_file() -> Malformed:
    return Malformed("not an age file", "the file does not start with an age header or ASCII armor")


def invalid_header(reason: str) -> Malformed:
    return Malformed(f"invalid header: {reason}", "the file is damaged or is not an age file")


def header_auth_failed() -> DecryptFailed:
    return DecryptFailed(
        "header authentication failed: the file was modified or is not for this key",
        "copy the file again from its source; if it is intact, it was tampered with",
    )


def payload_auth_failed(chunk: int) -> DecryptFailed:
    return DecryptFailed(
        f"payload authentication failed at chunk {chunk}: the file is corrupted or was tampered with",
        "copy the file again from its source; no byte of that chunk was returned",
    )
