"""The two ciphers of the MyData protocol: the per-service AES-CBC and the download JWE.

AES-256-CBC with PKCS#7 protects the small values that travel through the browser and the
notify call (the citizen's ID number in ``pid``, the ``tx_id`` on the return URL, the
per-transaction ``secret_key``). The key is the service's ``client_secret`` written twice and
the IV is the fixed ``cbc_iv``: that is how MyData defines it, so the same plaintext always
gives the same ciphertext. It protects confidentiality only, not integrity; whatever is
decrypted must still be checked against what Onestop stored.

MyData puts the base64 ``tx_id`` on the return URL without URL-encoding it, so a ``+`` arrives
as a space once the query string is decoded, and some senders drop the ``=`` padding;
``decrypt_b64`` undoes both. Any other deviation is an error.

The downloaded package is a compact JWE with ``alg=A256KW`` and ``enc=A256CBC-HS512``
(RFC 7516, RFC 7518 5.2.5), keyed with the 32 ASCII characters of the per-transaction secret.
It is implemented here from the primitives of ``cryptography`` rather than with a JOSE
library so that exactly one algorithm pair exists: a token naming anything else, asking for
compression or carrying critical extensions is refused before any key is touched.
"""
from __future__ import annotations

import base64
import binascii
import hmac
import json
import os
import re
import secrets
import struct

from cryptography.hazmat.primitives import hashes, padding
from cryptography.hazmat.primitives import hmac as crypto_hmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.keywrap import (
    InvalidUnwrap,
    aes_key_unwrap,
    aes_key_wrap,
)

JWE_ALG = "A256KW"
JWE_ENC = "A256CBC-HS512"
JWE_HEADER = b'{"alg":"A256KW","enc":"A256CBC-HS512"}'
FORBIDDEN_HEADERS = ("zip", "crit")

BLOCK = 16
CEK_BYTES = 64
HALF_CEK = 32
TAG_BYTES = 32
WRAPPED_CEK_BYTES = CEK_BYTES + 8
KEY_BYTES = 32
MAX_HEADER_CHARS = 4096

_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")
_BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")


class MyDataCryptoError(Exception):
    """A value from MyData (or pretending to be) could not be decrypted or was refused."""


def aes_key(client_secret: str) -> bytes:
    """The AES-256 key: the 16-character client secret written twice."""
    raw = client_secret.encode("utf-8")
    if len(client_secret) != 16 or len(raw) != 16:
        raise ValueError("client_secret must be 16 ASCII characters")
    return raw + raw


def _iv(cbc_iv: str) -> bytes:
    raw = cbc_iv.encode("utf-8")
    if len(cbc_iv) != BLOCK or len(raw) != BLOCK:
        raise ValueError("cbc_iv must be 16 ASCII characters")
    return raw


def _cbc_encrypt(key: bytes, iv: bytes, plaintext: bytes) -> bytes:
    padder = padding.PKCS7(128).padder()
    padded = padder.update(plaintext) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return encryptor.update(padded) + encryptor.finalize()


def _cbc_decrypt(key: bytes, iv: bytes, ciphertext: bytes) -> bytes:
    if not ciphertext or len(ciphertext) % BLOCK:
        raise MyDataCryptoError("ciphertext length is not a positive multiple of 16")
    decryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    padded = decryptor.update(ciphertext) + decryptor.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    try:
        return unpadder.update(padded) + unpadder.finalize()
    except ValueError:
        raise MyDataCryptoError("bad padding") from None


def aes_encrypt(plaintext: bytes, client_secret: str, cbc_iv: str) -> bytes:
    return _cbc_encrypt(aes_key(client_secret), _iv(cbc_iv), plaintext)


def aes_decrypt(ciphertext: bytes, client_secret: str, cbc_iv: str) -> bytes:
    return _cbc_decrypt(aes_key(client_secret), _iv(cbc_iv), ciphertext)


def encrypt_b64(text: str, client_secret: str, cbc_iv: str) -> str:
    """Standard base64 (with padding) of the AES ciphertext of ``text`` in UTF-8."""
    return base64.b64encode(aes_encrypt(text.encode("utf-8"), client_secret, cbc_iv)).decode("ascii")


def _b64_tolerant(value: str) -> bytes:
    repaired = value.replace(" ", "+")
    repaired += "=" * (-len(repaired) % 4)
    if not _BASE64.fullmatch(repaired):
        raise MyDataCryptoError("not base64")
    try:
        return base64.b64decode(repaired, validate=True)
    except binascii.Error:
        raise MyDataCryptoError("not base64") from None


def decrypt_b64(value: str, client_secret: str, cbc_iv: str) -> str:
    """Inverse of ``encrypt_b64``, accepting a ``+`` that arrived as a space and missing padding."""
    plaintext = aes_decrypt(_b64_tolerant(value), client_secret, cbc_iv)
    try:
        return plaintext.decode("utf-8")
    except UnicodeDecodeError:
        raise MyDataCryptoError("plaintext is not UTF-8") from None


def new_secret_hex() -> str:
    """A fresh per-transaction secret: 32 lowercase hex characters (its ASCII is the JWE key)."""
    return secrets.token_hex(16)


def _b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(part: str) -> bytes:
    if not _BASE64URL.fullmatch(part) or len(part) % 4 == 1:
        raise MyDataCryptoError("JWE part is not base64url")
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _check_key(key: bytes) -> None:
    if not isinstance(key, bytes) or len(key) != KEY_BYTES:
        raise ValueError("the JWE key must be 32 bytes")


def _auth_tag(mac_key: bytes, aad: bytes, iv: bytes, ciphertext: bytes) -> bytes:
    """RFC 7518 5.2.2.1: HMAC-SHA-512 over AAD || IV || E || AL, truncated to 32 bytes."""
    mac = crypto_hmac.HMAC(mac_key, hashes.SHA512())
    mac.update(aad + iv + ciphertext + struct.pack(">Q", len(aad) * 8))
    return mac.finalize()[:TAG_BYTES]


def _seal(cek: bytes, iv: bytes, aad: bytes, plaintext: bytes) -> tuple[bytes, bytes]:
    """AES_256_CBC_HMAC_SHA_512 encryption: (ciphertext, tag)."""
    ciphertext = _cbc_encrypt(cek[HALF_CEK:], iv, plaintext)
    return ciphertext, _auth_tag(cek[:HALF_CEK], aad, iv, ciphertext)


def _open(cek: bytes, iv: bytes, aad: bytes, ciphertext: bytes, tag: bytes) -> bytes:
    """AES_256_CBC_HMAC_SHA_512 decryption; the tag is checked before any block is decrypted."""
    expected = _auth_tag(cek[:HALF_CEK], aad, iv, ciphertext)
    if not hmac.compare_digest(expected, tag):
        raise MyDataCryptoError("JWE authentication tag does not match")
    return _cbc_decrypt(cek[HALF_CEK:], iv, ciphertext)


def jwe_encrypt(payload: bytes, key: bytes) -> str:
    """Compact JWE of ``payload`` with A256KW / A256CBC-HS512 under the 32-byte ``key``."""
    _check_key(key)
    cek = os.urandom(CEK_BYTES)
    iv = os.urandom(BLOCK)
    protected = _b64url_encode(JWE_HEADER)
    ciphertext, tag = _seal(cek, iv, protected.encode("ascii"), payload)
    parts = (protected, _b64url_encode(aes_key_wrap(key, cek)), _b64url_encode(iv),
             _b64url_encode(ciphertext), _b64url_encode(tag))
    return ".".join(parts)


def _unique_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        raise MyDataCryptoError("JWE header repeats a member")
    return dict(pairs)


def _parse_header(protected: str) -> None:
    if len(protected) > MAX_HEADER_CHARS:
        raise MyDataCryptoError("JWE header is too long")
    try:
        header = json.loads(_b64url_decode(protected), object_pairs_hook=_unique_keys)
    except (ValueError, RecursionError):
        raise MyDataCryptoError("JWE header is not JSON") from None
    if not isinstance(header, dict):
        raise MyDataCryptoError("JWE header is not a JSON object")
    if header.get("alg") != JWE_ALG:
        raise MyDataCryptoError(f"JWE alg {header.get('alg')!r} refused")
    if header.get("enc") != JWE_ENC:
        raise MyDataCryptoError(f"JWE enc {header.get('enc')!r} refused")
    for name in FORBIDDEN_HEADERS:
        if name in header:
            raise MyDataCryptoError(f"JWE header {name!r} refused")


def _split(token: str) -> list[str]:
    if not isinstance(token, str):
        raise MyDataCryptoError("JWE must be text")
    parts = token.strip().split(".")
    if len(parts) != 5:
        raise MyDataCryptoError(f"compact JWE has 5 parts, not {len(parts)}")
    return parts


def _unwrap(key: bytes, wrapped: bytes) -> bytes:
    if len(wrapped) != WRAPPED_CEK_BYTES:
        raise MyDataCryptoError("wrapped key has the wrong length")
    try:
        return aes_key_unwrap(key, wrapped)
    except InvalidUnwrap:
        raise MyDataCryptoError("key unwrap failed (wrong key or damaged token)") from None


def jwe_decrypt(token: str, key: bytes) -> bytes:
    """The payload of a compact JWE made by ``jwe_encrypt`` (or MyData); anything else is refused."""
    _check_key(key)
    protected, wrapped, iv, ciphertext, tag = _split(token)
    _parse_header(protected)
    iv_bytes, tag_bytes = _b64url_decode(iv), _b64url_decode(tag)
    if len(iv_bytes) != BLOCK or len(tag_bytes) != TAG_BYTES:
        raise MyDataCryptoError("JWE IV or tag has the wrong length")
    cek = _unwrap(key, _b64url_decode(wrapped))
    return _open(cek, iv_bytes, protected.encode("ascii"), _b64url_decode(ciphertext), tag_bytes)
