"""The MyData package: building it (sandbox) and opening and verifying it (client).

The package is a zip named ``<client_id>.zip`` with one inner zip per delivered dataset and a
``META-INFO/manifest.xml`` listing every requested dataset with its result code. Each inner zip
carries the data files, a manifest of their SHA-256 digests, the data provider's RSA signature
over that manifest's exact bytes and the provider's certificate.

The package travels encrypted, but encryption only says it came from MyData, not that MyData
(or anything between the provider and MyData) handled it correctly, so opening it treats every
byte as hostile:

* Structure is checked before anything is decompressed: size, entry count, names (no absolute
  paths, ``..``, backslashes, drive letters, NULs or duplicates), encryption and compression
  method, and the declared sizes and compression ratio of every entry. Entries are then read
  through a bounded reader that stops one byte past the limit whatever the header claimed, and
  every decompressed byte in the package, outer and inner, counts against one shared budget.
  Entries of at most ``RATIO_FREE_BYTES`` are exempt from the ratio check: they cannot be a
  bomb, and short JSON with repeated keys legitimately compresses well.
* Zips nest exactly one level (the datasets); a zip inside a dataset is refused. Outer
  entries the package manifest does not list are read within the limits and then ignored.
* Manifests are parsed with defusedxml with DTDs forbidden, so no entity can expand.

A structural violation raises ``MyDataPackageError``: such a package is not worth reading. A
dataset that is well formed but fails authentication (certificate, signature, digests, missing
or extra files) is returned with its ``problems`` and no files, so the caller can refuse that
dataset alone and keep the others. Certificates are checked against a configured trust store
of the issuing CAs (one level: the provider certificate must be issued directly by one of
them), at the time of opening.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import io
import re
import struct
import zipfile
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from xml.etree import ElementTree

import defusedxml.ElementTree as SafeElementTree
import orjson
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from defusedxml import DefusedXmlException

MANIFEST = "META-INFO/manifest.xml"
SIGNATURE = "META-INFO/manifest.sha256withrsa"
CERTIFICATE = "META-INFO/certificate.cer"
META_DIR = "META-INFO/"
DATA_PREFIX = "application/zip;data:"
CODE_OK = 200
TAMPER_MODES = ("signature", "digest")

MIB = 1024 * 1024
RATIO_FREE_BYTES = 64 * 1024
MAX_CENTRAL_RECORD_BYTES = 4096
ZIP_TIME = (2024, 1, 1, 0, 0, 0)
ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError,
               ValueError, OSError, struct.error)
_BASE64URL = re.compile(r"[A-Za-z0-9_-]*={0,2}")


class MyDataPackageError(Exception):
    """The package (or its wrapping) is malformed or hostile and must not be used at all."""


class _ManifestError(MyDataPackageError):
    """A dataset manifest that is not what the format says; it refuses only that dataset."""


# --- providers and certificates -------------------------------------------------------------


@dataclass(frozen=True)
class Provider:
    private_key: rsa.RSAPrivateKey
    certificate: x509.Certificate
    name: str


def _subject(name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "TW"),
                      x509.NameAttribute(NameOID.COMMON_NAME, name)])


def _new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _key_usage(*, signing: bool) -> x509.KeyUsage:
    return x509.KeyUsage(digital_signature=signing, content_commitment=signing,
                         key_encipherment=False, data_encipherment=False, key_agreement=False,
                         key_cert_sign=not signing, crl_sign=not signing,
                         encipher_only=False, decipher_only=False)


def make_ca(name: str = "MyData Sandbox Root CA") -> Provider:
    """A self-signed certificate authority (RSA 2048, ten years) for the sandbox trust store."""
    key = _new_key()
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(_subject(name))
        .issuer_name(_subject(name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(signing=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return Provider(key, certificate, name)


def make_provider(ca: Provider, name: str) -> Provider:
    """A data provider (e.g. 內政部戶政司) whose two-year signing certificate ``ca`` issued."""
    key = _new_key()
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(_subject(name))
        .issuer_name(ca.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=730))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(signing=True), critical=True)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.private_key.public_key()),
                       critical=False)
        .sign(ca.private_key, hashes.SHA256())
    )
    return Provider(key, certificate, name)


# --- building ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class DatasetSpec:
    resource_id: str
    resource_name: str
    code: int
    files: dict[str, bytes]


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _manifest_xml(rows: list[dict[str, str]]) -> bytes:
    root = ElementTree.Element("files")
    for row in rows:
        element = ElementTree.SubElement(root, "file")
        for tag, text in row.items():
            ElementTree.SubElement(element, tag).text = text
    return ElementTree.tostring(root, encoding="utf-8", xml_declaration=True)


def _zip(entries: list[tuple[str, bytes]]) -> bytes:
    """A deflated zip with fixed timestamps, so the same input always gives the same bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries:
            info = zipfile.ZipInfo(name, ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    return buffer.getvalue()


def _check_spec(spec: DatasetSpec, provider: Provider | None) -> None:
    if spec.code == CODE_OK and provider is None:
        raise ValueError(f"{spec.resource_id}: a delivered dataset needs a provider")
    for name in spec.files:
        if not _is_safe_name(name) or name.startswith(META_DIR) or name.lower().endswith(".zip"):
            raise ValueError(f"{spec.resource_id}: unusable data file name {name!r}")


def _dataset_zip(spec: DatasetSpec, provider: Provider, tamper: str | None) -> bytes:
    files = dict(spec.files)
    manifest = _manifest_xml([{"filename": n, "digest": _sha256(d)} for n, d in files.items()])
    signature = provider.private_key.sign(manifest, padding.PKCS1v15(), hashes.SHA256())
    if tamper == "signature":
        signature = bytes([signature[0] ^ 0x01]) + signature[1:]
    if tamper == "digest":
        if not files:
            raise ValueError("digest tampering needs a dataset with files")
        first = next(iter(files))
        files[first] += b"\n"
    der = provider.certificate.public_bytes(Encoding.DER)
    return _zip([*files.items(), (MANIFEST, manifest), (SIGNATURE, signature), (CERTIFICATE, der)])


def build_package(client_id: str, datasets: list[tuple[DatasetSpec, Provider | None]], *,
                  tamper: str | None = None) -> bytes:
    """The bytes of ``<client_id>.zip``; ``tamper`` damages the first delivered dataset."""
    if not re.fullmatch(r"[A-Za-z0-9._-]+", client_id):
        raise ValueError("client_id is not a usable file name")
    if tamper is not None and tamper not in TAMPER_MODES:
        raise ValueError(f"tamper must be one of {TAMPER_MODES}")
    rows: list[dict[str, str]] = []
    entries: list[tuple[str, bytes]] = []
    for spec, provider in datasets:
        _check_spec(spec, provider)
        filename = f"{spec.resource_id}.zip" if spec.code == CODE_OK else ""
        rows.append({"filename": filename, "resource_id": spec.resource_id,
                     "resource_name": spec.resource_name, "code": str(spec.code)})
        if spec.code == CODE_OK and provider is not None:
            entries.append((filename, _dataset_zip(spec, provider, tamper if not entries else None)))
    if tamper is not None and not entries:
        raise ValueError("tampering needs at least one delivered dataset")
    entries.append((MANIFEST, _manifest_xml(rows)))
    return _zip(entries)


# --- the JSON wrapping inside the JWE -----------------------------------------------------------


def wrap_payload(client_id: str, zip_bytes: bytes) -> bytes:
    data = DATA_PREFIX + base64.urlsafe_b64encode(zip_bytes).decode("ascii")
    return orjson.dumps({"filename": f"{client_id}.zip", "data": data})


def _decode_zip_data(encoded: str) -> bytes:
    """URL-safe base64 as specified; the standard alphabet and missing padding are also read."""
    text = encoded.replace("+", "-").replace("/", "_")
    if not text or not _BASE64URL.fullmatch(text):
        raise MyDataPackageError("payload data is not base64")
    text = text.rstrip("=")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise MyDataPackageError("payload data is not base64") from None


def unwrap_payload(payload: bytes) -> bytes:
    """The zip bytes inside the decrypted JWE payload."""
    try:
        document = orjson.loads(payload)
    except orjson.JSONDecodeError:
        raise MyDataPackageError("payload is not JSON") from None
    if not isinstance(document, dict):
        raise MyDataPackageError("payload is not a JSON object")
    filename, data = document.get("filename"), document.get("data")
    if not isinstance(filename, str) or not filename.endswith(".zip"):
        raise MyDataPackageError("payload filename is missing or not a zip")
    if not isinstance(data, str) or not data.startswith(DATA_PREFIX):
        raise MyDataPackageError(f"payload data does not start with {DATA_PREFIX!r}")
    return _decode_zip_data(data[len(DATA_PREFIX):])


# --- reading zips within limits -----------------------------------------------------------------


@dataclass(frozen=True)
class Limits:
    max_package_bytes: int = 50 * MIB
    max_entries: int = 200
    max_entry_bytes: int = 20 * MIB
    max_total_uncompressed: int = 100 * MIB
    max_ratio: int = 200


class _Budget:
    """Decompressed bytes still allowed for the whole package, outer and inner zips together."""

    def __init__(self, total: int) -> None:
        self.left = total

    def take(self, amount: int) -> None:
        if amount > self.left:
            raise MyDataPackageError("package expands beyond the total size limit")
        self.left -= amount


def _is_safe_name(name: str) -> bool:
    if not name or name.startswith("/") or "\\" in name or ":" in name:
        return False
    if any(ord(char) < 32 or ord(char) == 127 for char in name):
        return False
    parts = name[:-1].split("/") if name.endswith("/") else name.split("/")
    return all(part not in ("", ".", "..") for part in parts)


def _check_end_record(data: bytes, limits: Limits, what: str) -> None:
    """Refuse oversized central directories before zipfile parses (and allocates) them."""
    at = data.rfind(b"PK\x05\x06", max(0, len(data) - 22 - 0xFFFF))
    if at < 0 or len(data) - at < 22:
        raise MyDataPackageError(f"{what} is not a zip")
    if at >= 20 and data[at - 20:at - 16] == b"PK\x06\x07":
        raise MyDataPackageError(f"{what} uses ZIP64, which no package of this size needs")
    entries, directory_bytes = struct.unpack("<HI", data[at + 10:at + 16])
    if entries > limits.max_entries or directory_bytes > limits.max_entries * MAX_CENTRAL_RECORD_BYTES:
        raise MyDataPackageError(f"{what} has too many entries")


def _entry_cap(info: zipfile.ZipInfo, limits: Limits, budget: _Budget) -> int:
    by_ratio = max(limits.max_ratio * info.compress_size, RATIO_FREE_BYTES)
    return min(limits.max_entry_bytes, by_ratio, budget.left)


def _check_entry(info: zipfile.ZipInfo, limits: Limits, budget: _Budget, what: str) -> None:
    name = info.filename
    if info.orig_filename != name or not _is_safe_name(name):
        raise MyDataPackageError(f"{what}: unsafe entry name {info.orig_filename!r}")
    if info.flag_bits & 0x1:
        raise MyDataPackageError(f"{what}: {name} is encrypted")
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise MyDataPackageError(f"{what}: {name} uses an unsupported compression method")
    if info.file_size > _entry_cap(info, limits, budget):
        raise MyDataPackageError(f"{what}: {name} declares a size or compression ratio beyond the limits")


def _check_entries(infos: list[zipfile.ZipInfo], limits: Limits, budget: _Budget, what: str) -> None:
    if len(infos) > limits.max_entries:
        raise MyDataPackageError(f"{what} has too many entries")
    seen: set[str] = set()
    for info in infos:
        _check_entry(info, limits, budget, what)
        folded = info.filename.casefold()
        if folded in seen:
            raise MyDataPackageError(f"{what}: duplicate entry {info.filename}")
        seen.add(folded)
    if sum(info.file_size for info in infos) > budget.left:
        raise MyDataPackageError(f"{what} declares more than the total size limit")


def _read_entry(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limits: Limits,
                budget: _Budget, what: str) -> bytes:
    cap = _entry_cap(info, limits, budget)
    with archive.open(info) as stream:
        data = stream.read(cap + 1)
    if len(data) > cap:
        raise MyDataPackageError(f"{what}: {info.filename} expands beyond the limits")
    budget.take(len(data))
    return data


def _read_zip(data: bytes, limits: Limits, budget: _Budget, what: str) -> dict[str, bytes]:
    """Every file entry of a zip by name, or ``MyDataPackageError`` when any limit is crossed."""
    if len(data) > limits.max_package_bytes:
        raise MyDataPackageError(f"{what} is larger than {limits.max_package_bytes} bytes")
    _check_end_record(data, limits, what)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
            _check_entries(infos, limits, budget, what)
            return {info.filename: _read_entry(archive, info, limits, budget, what)
                    for info in infos if not info.is_dir()}
    except _ZIP_ERRORS as error:
        raise MyDataPackageError(f"{what} is not a readable zip: {error}") from None


def _refuse_nested(entries: dict[str, bytes], what: str) -> None:
    for name, data in entries.items():
        if name.lower().endswith(".zip") or data.startswith(ZIP_MAGICS):
            raise MyDataPackageError(f"{what}: zip nested inside a dataset ({name})")


# --- manifests -----------------------------------------------------------------------------------


def _parse_xml(data: bytes, what: str) -> ElementTree.Element:
    try:
        root = SafeElementTree.fromstring(data, forbid_dtd=True)
    except DefusedXmlException:
        raise MyDataPackageError(f"{what}: DTDs and entities are refused") from None
    except ElementTree.ParseError:
        raise _ManifestError(f"{what} is not well-formed XML") from None
    if root.tag != "files":
        raise _ManifestError(f"{what}: root element is <{root.tag}>, not <files>")
    return root


def _text(element: ElementTree.Element, tag: str) -> str:
    return (element.findtext(tag) or "").strip()


@dataclass(frozen=True)
class _Listed:
    filename: str
    resource_id: str
    resource_name: str
    code: int


def _listed_dataset(element: ElementTree.Element) -> _Listed:
    resource_id, code = _text(element, "resource_id"), _text(element, "code")
    if not resource_id or not re.fullmatch(r"\d{1,3}", code):
        raise MyDataPackageError(f"{MANIFEST}: a dataset lacks a resource_id or a numeric code")
    filename = _text(element, "filename") or f"{resource_id}.zip"
    if int(code) == CODE_OK and ("/" in filename or not _is_safe_name(filename)):
        raise MyDataPackageError(f"{MANIFEST}: unusable dataset file name {filename!r}")
    return _Listed(filename, resource_id, _text(element, "resource_name"), int(code))


def _package_manifest(data: bytes) -> list[_Listed]:
    listed = [_listed_dataset(element) for element in _parse_xml(data, MANIFEST).findall("file")]
    ids = [item.resource_id for item in listed]
    if len(ids) != len(set(ids)):
        raise MyDataPackageError(f"{MANIFEST} lists a dataset twice")
    return listed


def _digest_manifest(data: bytes) -> list[tuple[str, str]]:
    rows = [(_text(e, "filename"), _text(e, "digest").lower())
            for e in _parse_xml(data, MANIFEST).findall("file")]
    names = [name for name, _ in rows]
    if any(not name or name.startswith(META_DIR) for name in names):
        raise _ManifestError(f"{MANIFEST} lists an unusable file name")
    if len(names) != len(set(names)):
        raise _ManifestError(f"{MANIFEST} lists a file twice")
    return rows


# --- verifying a dataset -------------------------------------------------------------------------


@dataclass(frozen=True)
class VerifiedDataset:
    resource_id: str
    resource_name: str
    code: int
    files: dict[str, bytes]
    provider: str
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return self.code == CODE_OK and not self.problems


@dataclass(frozen=True)
class VerifiedPackage:
    sha256: str
    datasets: tuple[VerifiedDataset, ...]

    def dataset(self, resource_id: str) -> VerifiedDataset | None:
        return next((d for d in self.datasets if d.resource_id == resource_id), None)


def _load_certificate(data: bytes) -> x509.Certificate | None:
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            return x509.load_pem_x509_certificate(data)
        return x509.load_der_x509_certificate(data)
    except ValueError:
        return None


def _common_name(certificate: x509.Certificate) -> str:
    names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else certificate.subject.rfc4514_string()


def _valid_at(certificate: x509.Certificate, now: datetime) -> bool:
    return certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc


def _is_ca(certificate: x509.Certificate) -> bool:
    try:
        return certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return False


def _issued_by(certificate: x509.Certificate, authority: x509.Certificate, now: datetime) -> bool:
    if certificate.issuer != authority.subject or not _is_ca(authority) or not _valid_at(authority, now):
        return False
    try:
        certificate.verify_directly_issued_by(authority)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _certificate_problems(certificate: x509.Certificate, trust_store: list[x509.Certificate],
                          now: datetime) -> list[str]:
    problems = []
    if not _valid_at(certificate, now):
        problems.append("certificate is outside its validity period")
    if not any(_issued_by(certificate, authority, now) for authority in trust_store):
        problems.append("certificate not issued by a trusted authority")
    return problems


def _signature_problems(certificate: x509.Certificate, manifest: bytes, signature: bytes) -> list[str]:
    key = certificate.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        return ["certificate key is not RSA"]
    try:
        key.verify(signature, manifest, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return ["signature does not verify"]
    return []


def _file_problems(manifest: bytes, entries: dict[str, bytes]) -> list[str]:
    try:
        rows = _digest_manifest(manifest)
    except _ManifestError as error:
        return [str(error)]
    problems = []
    for name, digest in rows:
        if name not in entries:
            problems.append(f"missing file: {name}")
        elif _sha256(entries[name]) != digest:
            problems.append(f"digest mismatch: {name}")
    listed = {name for name, _ in rows}
    problems += [f"unlisted file: {name}" for name in sorted(entries)
                 if not name.startswith(META_DIR) and name not in listed]
    return problems


def _dataset_problems(entries: dict[str, bytes], certificate: x509.Certificate | None,
                      trust_store: list[x509.Certificate], now: datetime) -> list[str]:
    missing = [f"missing {name}" for name in (MANIFEST, SIGNATURE, CERTIFICATE) if name not in entries]
    if missing:
        return missing
    if certificate is None:
        return ["certificate cannot be read"]
    return (_certificate_problems(certificate, trust_store, now)
            + _signature_problems(certificate, entries[MANIFEST], entries[SIGNATURE])
            + _file_problems(entries[MANIFEST], entries))


def _verify_dataset(listed: _Listed, package: dict[str, bytes], trust_store: list[x509.Certificate],
                    limits: Limits, budget: _Budget, now: datetime) -> VerifiedDataset:
    def result(files: dict[str, bytes], provider: str, problems: list[str]) -> VerifiedDataset:
        return VerifiedDataset(listed.resource_id, listed.resource_name, listed.code,
                               {} if problems else files, provider, tuple(problems))

    if listed.code != CODE_OK:
        return result({}, "", [])
    if listed.filename not in package:
        return result({}, "", [f"package has no {listed.filename}"])
    entries = _read_zip(package[listed.filename], limits, budget, listed.filename)
    _refuse_nested(entries, listed.filename)
    certificate = _load_certificate(entries[CERTIFICATE]) if CERTIFICATE in entries else None
    provider = _common_name(certificate) if certificate else ""
    files = {name: data for name, data in entries.items() if not name.startswith(META_DIR)}
    return result(files, provider, _dataset_problems(entries, certificate, trust_store, now))


def open_package(zip_bytes: bytes, trust_store: list[x509.Certificate],
                 limits: Limits = Limits()) -> VerifiedPackage:
    """Open ``<client_id>.zip`` and verify every delivered dataset against ``trust_store``."""
    budget = _Budget(limits.max_total_uncompressed)
    package = _read_zip(bytes(zip_bytes), limits, budget, "package")
    if MANIFEST not in package:
        raise MyDataPackageError(f"package has no {MANIFEST}")
    listed = _package_manifest(package[MANIFEST])
    now = datetime.now(UTC)
    datasets = tuple(_verify_dataset(item, package, trust_store, limits, budget, now) for item in listed)
    return VerifiedPackage(hashlib.sha256(zip_bytes).hexdigest(), datasets)
