"""The MyData ciphers against known answers, and the tokens they must refuse.

``vectors/crypto.json`` was generated once and is kept as it is, so that any change in how
values are encrypted or decrypted breaks these tests rather than passing a round trip. It was
made with the fixed ``client_secret`` and ``cbc_iv`` it records:

* ``aes``: for each plaintext, ``aes_encrypt(plaintext UTF-8).hex()`` and ``encrypt_b64``;
  the ``tx_id`` is the first UUID tried whose ciphertext contains a ``+``. The Chinese vector
  was checked against ``openssl enc -aes-256-cbc`` with the same key and IV.
* ``jwe``: a JSON payload encrypted under the ASCII of ``key``, once by ``jwe_encrypt`` (and
  decrypted by the independent jwcrypto library to confirm interoperability) and once by
  jwcrypto itself with ``{"alg": "A256KW", "enc": "A256CBC-HS512"}``.

``vectors/rfc7518_b3.json`` is the published AES_256_CBC_HMAC_SHA_512 test case of RFC 7518
Appendix B.3, which pins the content encryption and the tag independently of this code.
"""
from __future__ import annotations

import base64
import json
import os
import re
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.keywrap import aes_key_wrap

from handlers.mydata import crypto
from handlers.mydata.crypto import (
    MyDataCryptoError,
    aes_decrypt,
    aes_encrypt,
    aes_key,
    decrypt_b64,
    encrypt_b64,
    jwe_decrypt,
    jwe_encrypt,
    new_secret_hex,
)

VECTORS = Path(__file__).parent / "vectors"
KAT = json.loads((VECTORS / "crypto.json").read_text(encoding="utf-8"))
RFC = {k: v for k, v in json.loads((VECTORS / "rfc7518_b3.json").read_text()).items() if k != "source"}
SECRET, IV = KAT["client_secret"], KAT["cbc_iv"]
JWE_KEY = KAT["jwe"]["key"].encode("ascii")
JWE_PLAINTEXT = KAT["jwe"]["plaintext"].encode("utf-8")
AES_CASES = {case["name"]: case for case in KAT["aes"]}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def forge(header: dict, payload: bytes = b"{}", key: bytes = JWE_KEY) -> str:
    """A token that is valid in every respect except that it carries ``header``."""
    cek, iv = os.urandom(64), os.urandom(16)
    protected = b64url(json.dumps(header).encode())
    ciphertext, tag = crypto._seal(cek, iv, protected.encode("ascii"), payload)
    return ".".join([protected, b64url(aes_key_wrap(key, cek)), b64url(iv), b64url(ciphertext), b64url(tag)])


def flip(token: str, part: int, index: int = 0) -> str:
    parts = token.split(".")
    raw = bytearray(unb64url(parts[part]))
    raw[index] ^= 0x01
    parts[part] = b64url(bytes(raw))
    return ".".join(parts)


# --- AES-CBC -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(AES_CASES))
def test_aes_known_answers(name: str) -> None:
    case = AES_CASES[name]
    plaintext = case["plaintext"].encode("utf-8")
    assert aes_encrypt(plaintext, SECRET, IV).hex() == case["ciphertext_hex"]
    assert encrypt_b64(case["plaintext"], SECRET, IV) == case["base64"]
    assert aes_decrypt(bytes.fromhex(case["ciphertext_hex"]), SECRET, IV) == plaintext
    assert decrypt_b64(case["base64"], SECRET, IV) == case["plaintext"]


def test_vectors_cover_the_values_mydata_carries() -> None:
    assert re.fullmatch(r"[A-Z][12]\d{8}", AES_CASES["national_id"]["plaintext"])
    assert "臺南市" in AES_CASES["chinese"]["plaintext"]
    assert "+" in AES_CASES["tx_id_with_plus"]["base64"]
    assert AES_CASES["empty"]["base64"].startswith("+")


@pytest.mark.parametrize("name", ["tx_id_with_plus", "chinese", "empty", "secret_hex"])
def test_decrypt_b64_accepts_plus_that_arrived_as_space(name: str) -> None:
    case = AES_CASES[name]
    assert decrypt_b64(case["base64"].replace("+", " "), SECRET, IV) == case["plaintext"]


@pytest.mark.parametrize("name", ["national_id", "chinese", "one_block"])
def test_decrypt_b64_accepts_missing_padding(name: str) -> None:
    case = AES_CASES[name]
    assert case["base64"].endswith("=")
    assert decrypt_b64(case["base64"].rstrip("="), SECRET, IV) == case["plaintext"]


@pytest.mark.parametrize("value", ["not base64!", "coB5lOGCR9M2q6SBdc818g==x", "%2B", "c", "", "coB5-OGCR9M2q6SBdc818g=="])
def test_decrypt_b64_refuses_what_is_not_base64_ciphertext(value: str) -> None:
    with pytest.raises(MyDataCryptoError):
        decrypt_b64(value, SECRET, IV)


def test_decrypt_b64_with_another_secret_fails() -> None:
    with pytest.raises(MyDataCryptoError):
        decrypt_b64(AES_CASES["chinese"]["base64"], "0000000000000000", IV)


def test_aes_decrypt_refuses_bad_lengths_and_padding() -> None:
    with pytest.raises(MyDataCryptoError):
        aes_decrypt(b"", SECRET, IV)
    with pytest.raises(MyDataCryptoError):
        aes_decrypt(bytes(17), SECRET, IV)
    block = bytes.fromhex(AES_CASES["one_block"]["ciphertext_hex"])[:16]
    with pytest.raises(MyDataCryptoError):
        aes_decrypt(block, SECRET, IV)


def test_aes_key_is_the_secret_written_twice() -> None:
    assert aes_key("abcdefghijklmnop") == b"abcdefghijklmnopabcdefghijklmnop"


@pytest.mark.parametrize("secret", ["short", "abcdefghijklmnopq", "臺南市abcdefghijklm", ""])
def test_aes_key_refuses_anything_but_16_ascii_characters(secret: str) -> None:
    with pytest.raises(ValueError):
        aes_key(secret)


@pytest.mark.parametrize("iv", ["short", "abcdefghijklmnopq", "臺南市abcdefghijklm"])
def test_cbc_iv_must_be_16_ascii_characters(iv: str) -> None:
    with pytest.raises(ValueError):
        aes_encrypt(b"x", SECRET, iv)


def test_new_secret_hex() -> None:
    first, second = new_secret_hex(), new_secret_hex()
    assert re.fullmatch(r"[0-9a-f]{32}", first)
    assert first != second


# --- JWE -----------------------------------------------------------------------------------------


def test_content_encryption_matches_rfc7518_b3() -> None:
    key, iv, aad, plaintext = (bytes.fromhex(RFC[k]) for k in ("K", "IV", "A", "P"))
    ciphertext, tag = crypto._seal(key, iv, aad, plaintext)
    assert ciphertext.hex() == RFC["E"]
    assert tag.hex() == RFC["T"]
    assert crypto._open(key, iv, aad, ciphertext, tag) == plaintext


@pytest.mark.parametrize("source", ["onestop", "jwcrypto"])
def test_stored_tokens_decrypt_to_the_stored_plaintext(source: str) -> None:
    assert jwe_decrypt(KAT["jwe"]["tokens"][source], JWE_KEY) == JWE_PLAINTEXT


def test_jwe_round_trip_and_shape() -> None:
    payload = "戶籍資料 A123456789".encode() * 100
    token = jwe_encrypt(payload, JWE_KEY)
    protected, wrapped, iv, ciphertext, tag = token.split(".")
    assert unb64url(protected) == b'{"alg":"A256KW","enc":"A256CBC-HS512"}'
    assert (len(unb64url(wrapped)), len(unb64url(iv)), len(unb64url(tag))) == (72, 16, 32)
    assert len(unb64url(ciphertext)) % 16 == 0
    assert "=" not in token
    assert jwe_decrypt(token, JWE_KEY) == payload
    assert jwe_encrypt(payload, JWE_KEY) != token


def test_jwe_round_trip_with_empty_payload_and_new_secret() -> None:
    key = new_secret_hex().encode("ascii")
    assert jwe_decrypt(jwe_encrypt(b"", key), key) == b""


def test_forged_token_with_the_right_header_is_accepted() -> None:
    assert jwe_decrypt(forge({"alg": "A256KW", "enc": "A256CBC-HS512", "kid": "x"}, b"ok"), JWE_KEY) == b"ok"


@pytest.mark.parametrize(
    "header",
    [
        {"alg": "RSA-OAEP", "enc": "A256CBC-HS512"},
        {"alg": "dir", "enc": "A256CBC-HS512"},
        {"alg": "none", "enc": "A256CBC-HS512"},
        {"alg": "A128KW", "enc": "A256CBC-HS512"},
        {"alg": "A256KW", "enc": "A128GCM"},
        {"alg": "A256KW", "enc": "A128CBC-HS256"},
        {"alg": "A256KW", "enc": "A256CBC-HS512", "zip": "DEF"},
        {"alg": "A256KW", "enc": "A256CBC-HS512", "crit": ["exp"], "exp": 1},
        {"enc": "A256CBC-HS512"},
        {"alg": "A256KW"},
    ],
    ids=["RSA-OAEP", "dir", "none", "A128KW", "A128GCM", "A128CBC-HS256", "zip", "crit", "no-alg", "no-enc"],
)
def test_jwe_refuses_other_headers(header: dict) -> None:
    with pytest.raises(MyDataCryptoError):
        jwe_decrypt(forge(header), JWE_KEY)


def test_jwe_refuses_a_repeated_header_member() -> None:
    token = forge({"alg": "A256KW", "enc": "A256CBC-HS512"})
    parts = token.split(".")
    parts[0] = b64url(b'{"alg":"A256KW","enc":"A256CBC-HS512","alg":"dir"}')
    with pytest.raises(MyDataCryptoError):
        jwe_decrypt(".".join(parts), JWE_KEY)


@pytest.mark.parametrize("part", [1, 2, 3, 4], ids=["wrapped-key", "iv", "ciphertext", "tag"])
def test_jwe_refuses_a_flipped_byte(part: int) -> None:
    token = KAT["jwe"]["tokens"]["onestop"]
    with pytest.raises(MyDataCryptoError):
        jwe_decrypt(flip(token, part), JWE_KEY)


def test_jwe_refuses_a_flipped_last_tag_byte() -> None:
    with pytest.raises(MyDataCryptoError, match="tag"):
        jwe_decrypt(flip(KAT["jwe"]["tokens"]["onestop"], 4, -1), JWE_KEY)


def test_jwe_refuses_a_changed_header_even_if_equivalent() -> None:
    parts = KAT["jwe"]["tokens"]["onestop"].split(".")
    parts[0] = b64url(b'{"enc":"A256CBC-HS512","alg":"A256KW"}')
    with pytest.raises(MyDataCryptoError, match="tag"):
        jwe_decrypt(".".join(parts), JWE_KEY)


def test_jwe_refuses_the_wrong_key() -> None:
    with pytest.raises(MyDataCryptoError):
        jwe_decrypt(KAT["jwe"]["tokens"]["onestop"], new_secret_hex().encode("ascii"))


@pytest.mark.parametrize("count", [4, 6, 1])
def test_jwe_refuses_the_wrong_number_of_parts(count: int) -> None:
    parts = KAT["jwe"]["tokens"]["onestop"].split(".")
    parts = (parts + ["AAAA"])[:count]
    with pytest.raises(MyDataCryptoError, match="parts"):
        jwe_decrypt(".".join(parts), JWE_KEY)


@pytest.mark.parametrize("mangle", [
    lambda t: t + "=",
    lambda t: t.replace(".", ".+", 1),
    lambda t: "e30." + t.split(".", 1)[1],
    lambda t: "W10." + t.split(".", 1)[1],
    lambda t: "bm90IGpzb24." + t.split(".", 1)[1],
], ids=["padding", "plus", "empty-object", "array", "not-json"])
def test_jwe_refuses_malformed_parts(mangle) -> None:
    with pytest.raises(MyDataCryptoError):
        jwe_decrypt(mangle(KAT["jwe"]["tokens"]["onestop"]), JWE_KEY)


def test_jwe_refuses_bad_padding_under_a_valid_tag() -> None:
    cek, iv = os.urandom(64), os.urandom(16)
    protected = b64url(b'{"alg":"A256KW","enc":"A256CBC-HS512"}')
    unpadded = crypto._cbc_encrypt(cek[32:], iv, bytes(16))[:16]
    tag = crypto._auth_tag(cek[:32], protected.encode(), iv, unpadded)
    token = ".".join([protected, b64url(aes_key_wrap(JWE_KEY, cek)), b64url(iv), b64url(unpadded), b64url(tag)])
    with pytest.raises(MyDataCryptoError, match="padding"):
        jwe_decrypt(token, JWE_KEY)


def test_jwe_key_must_be_32_bytes() -> None:
    with pytest.raises(ValueError):
        jwe_encrypt(b"x", b"short")
    with pytest.raises(ValueError):
        jwe_decrypt(KAT["jwe"]["tokens"]["onestop"], JWE_KEY + b"x")
