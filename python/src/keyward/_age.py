"""The parts of the age v1 format (c2sp.org/age) a client needs once it holds a file key.

The header is opened by the daemon; here it is only found (where it ends, the bytes its MAC
covers) and its MAC checked with the file key the daemon released. The payload is a 16-byte
nonce, then STREAM: ChaCha20-Poly1305 over 64 KiB chunks, the nonce of chunk i being i as 11
big-endian bytes followed by 1 on the final chunk and 0 on the others; the key is
HKDF-SHA-256(file key, salt = nonce, info = "payload").
"""
from __future__ import annotations

import base64
import hmac
from dataclasses import dataclass
from hashlib import sha256
from typing import Optional

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from . import errors

VERSION_LINE = b"age-encryption.org/v1"
VERSION_PREFIX = b"age-encryption.org/"
ARMOR_BEGIN = b"-----BEGIN AGE ENCRYPTED FILE-----"
MAX_HEADER_BYTES = 1024 * 1024
FILE_KEY_SIZE = 16
NONCE_SIZE = 16
TAG_SIZE = 16
CHUNK_SIZE = 64 * 1024
SEALED_CHUNK_SIZE = CHUNK_SIZE + TAG_SIZE
COLUMNS = 64


@dataclass(frozen=True)
class Header:
    size: int
    """Where the payload starts."""
    without_mac: bytes
    """The header through the ``---`` mark: what the MAC covers."""
    mac: bytes


def find_header(data: bytes, final: bool) -> Optional[Header]:
    """The header at the start of ``data``; None if it goes on past ``data`` (and not ``final``).

    Only the framing is checked here (the daemon parses the stanzas, and the MAC covers them)."""
    if not VERSION_PREFIX.startswith(data[: len(VERSION_PREFIX)]):
        stripped = data.lstrip(b" \t\r\n\v\f")
        if stripped.startswith(b"-----BEGIN"):
            raise errors.InvalidInput(
                "an armored age file has no fixed chunk offsets to read from",
                "decrypt it with keyward decrypt, or re-encrypt it without -a",
            )
        raise errors.not_age_file()
    if not data and final:
        raise errors.not_age_file()
    pos = 0

    def line() -> Optional[bytes]:
        nonlocal pos
        nl = data.find(b"\n", pos)
        if nl < 0:
            if len(data) >= MAX_HEADER_BYTES:
                raise errors.Malformed("header too large", "the file is damaged or hostile")
            if final:
                raise errors.truncated()
            return None
        out = data[pos:nl]
        pos = nl + 1
        return out

    first = line()
    if first is None:
        return None
    if first != VERSION_LINE:
        raise errors.Malformed("unsupported age version", "Keyward reads age-encryption.org/v1 files; this one needs a newer age")
    stanzas = 0
    while True:
        start = pos
        ln = line()
        if ln is None:
            return None
        if ln.startswith(b"---"):
            if not ln.startswith(b"--- ") or stanzas == 0:
                raise errors.invalid_header("malformed MAC line" if stanzas else "no recipient stanzas")
            mac = _decode_raw(ln[4:])
            if mac is None or len(mac) != 32:
                raise errors.invalid_header("malformed MAC line")
            return Header(size=pos, without_mac=bytes(data[: start + 3]), mac=mac)
        if not ln.startswith(b"-> "):
            raise errors.invalid_header("expected a stanza or the MAC line")
        stanzas += 1
        while True:
            body = line()
            if body is None:
                return None
            if body.startswith(b"-"):
                raise errors.invalid_header("stanza body must end with a line shorter than 64 columns")
            if len(body) > COLUMNS:
                raise errors.invalid_header("stanza body line longer than 64 columns")
            if len(body) < COLUMNS:
                break


def _decode_raw(s: bytes) -> Optional[bytes]:
    """Canonical base64 without padding, or None."""
    try:
        out = base64.b64decode(s + b"=" * (-len(s) % 4), validate=True)
    except ValueError:
        return None
    return out if base64.b64encode(out).rstrip(b"=") == s else None


def _hkdf(ikm: bytes, salt: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(bytes(ikm))


def verify_mac(header: Header, file_key: bytes) -> bool:
    """Whether the header's MAC holds for this file key (compared in constant time)."""
    key = _hkdf(file_key, b"", b"header")
    return hmac.compare_digest(hmac.new(key, header.without_mac, sha256).digest(), header.mac)


def header_mac_line(without_mac: bytes, file_key: bytes) -> bytes:
    key = _hkdf(file_key, b"", b"header")
    return b" " + base64.b64encode(hmac.new(key, without_mac, sha256).digest()).rstrip(b"=") + b"\n"


def payload_key(file_key: bytes, nonce: bytes) -> bytes:
    return _hkdf(file_key, nonce, b"payload")


def chunk_nonce(counter: int, last: bool) -> bytes:
    return counter.to_bytes(11, "big") + (b"\x01" if last else b"\x00")


def plaintext_size(payload: int) -> Optional[int]:
    """The plaintext size for a payload size (nonce included), or None if no valid payload has it."""
    sealed = payload - NONCE_SIZE
    if sealed < TAG_SIZE:
        return None
    chunks = -(-sealed // SEALED_CHUNK_SIZE)
    last = sealed - (chunks - 1) * SEALED_CHUNK_SIZE
    if last < TAG_SIZE or (last == TAG_SIZE and chunks > 1):
        return None
    return sealed - chunks * TAG_SIZE


def chunk_count(plaintext: int) -> int:
    return max(1, -(-plaintext // CHUNK_SIZE))
