"""Building, wrapping, opening and verifying MyData packages, and the packages to refuse."""
from __future__ import annotations

import base64
import hashlib
import io
import json
import tracemalloc
import warnings
import zipfile
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa

from handlers.mydata.crypto import jwe_decrypt, jwe_encrypt, new_secret_hex
from handlers.mydata.package import (
    CERTIFICATE,
    MANIFEST,
    DatasetSpec,
    Limits,
    MyDataPackageError,
    Provider,
    build_package,
    make_ca,
    make_provider,
    open_package,
    unwrap_payload,
    wrap_payload,
)

CLIENT_ID = "CLI.a1B2c3D4e5"
HOUSEHOLD_ID = "API.7QovE2Gev6"
LOW_INCOME_ID = "API.AbAYGIjoYw"
VEHICLE_ID = "API.60GGfgGX1A"
HOUSEHOLD_JSON = json.dumps({"name": "王小明", "birth_date": "0780305", "district": "安平區",
                             "village": "文平里"}, ensure_ascii=False).encode("utf-8")
LOW_INCOME_PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
MIB = 1024 * 1024

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE files [
  <!ENTITY lol "lol">
  <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<files><file><filename>&lol4;</filename><resource_id>API.x</resource_id><code>200</code></file></files>
"""
EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE files [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<files><file><filename>&x;</filename></file></files>
"""


# --- helpers -------------------------------------------------------------------------------------


def zip_of(entries: list[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, data in entries:
                archive.writestr(name, data)
    return buffer.getvalue()


def entries_of(zip_bytes: bytes) -> list[tuple[str, bytes]]:
    with zipfile.ZipFile(io.BytesIO(zip_bytes)) as archive:
        return [(info.filename, archive.read(info)) for info in archive.infolist()]


def replaced(zip_bytes: bytes, name: str, data: bytes) -> bytes:
    return zip_of([(n, data if n == name else d) for n, d in entries_of(zip_bytes)])


def added(zip_bytes: bytes, name: str, data: bytes) -> bytes:
    return zip_of([*entries_of(zip_bytes), (name, data)])


def inner(zip_bytes: bytes, resource_id: str) -> bytes:
    return dict(entries_of(zip_bytes))[f"{resource_id}.zip"]


def with_inner(package: bytes, resource_id: str, inner_zip: bytes) -> bytes:
    return replaced(package, f"{resource_id}.zip", inner_zip)


def provider_valid(ca: Provider, name: str, not_before: datetime, not_after: datetime) -> Provider:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, name)])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .sign(ca.private_key, hashes.SHA256())
    )
    return Provider(key, certificate, name)


def bomb_zip(name: str = "bomb.json", megabytes: int = 50) -> bytes:
    """``megabytes`` MiB of zeros, streamed into the zip so the test never holds them at once."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive, archive.open(name, "w") as entry:
        chunk = bytes(MIB)
        for _ in range(megabytes):
            entry.write(chunk)
    return buffer.getvalue()


def lie_about_size(zip_bytes: bytes, declared: int) -> bytes:
    """The same zip whose headers declare ``declared`` bytes for its (single) entry."""
    data = bytearray(zip_bytes)
    central = data.find(b"PK\x01\x02")
    data[central + 24:central + 28] = declared.to_bytes(4, "little")
    data[22:26] = declared.to_bytes(4, "little")
    return bytes(data)


# --- fixtures ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ca() -> Provider:
    return make_ca()


@pytest.fixture(scope="module")
def household_office(ca: Provider) -> Provider:
    return make_provider(ca, "內政部戶政司")


@pytest.fixture(scope="module")
def welfare_office(ca: Provider) -> Provider:
    return make_provider(ca, "衛生福利部社會救助及社工司")


@pytest.fixture(scope="module")
def datasets(household_office: Provider, welfare_office: Provider) -> list:
    return [
        (DatasetSpec(HOUSEHOLD_ID, "個人戶籍資料", 200, {"household.json": HOUSEHOLD_JSON}), household_office),
        (DatasetSpec(LOW_INCOME_ID, "低收入戶及中低收入戶證明", 200, {"certificate.pdf": LOW_INCOME_PDF}),
         welfare_office),
        (DatasetSpec(VEHICLE_ID, "車籍資料", 504, {}), None),
    ]


@pytest.fixture(scope="module")
def package(datasets: list) -> bytes:
    return build_package(CLIENT_ID, datasets)


@pytest.fixture(scope="module")
def trust(ca: Provider) -> list[x509.Certificate]:
    return [ca.certificate]


def assert_only(opened, resource_id: str, problem: str) -> None:
    dataset = opened.dataset(resource_id)
    assert not dataset.ok
    assert problem in dataset.problems, dataset.problems
    assert dataset.files == {}
    others = [d for d in opened.datasets if d.resource_id != resource_id and d.code == 200]
    assert others and all(d.ok for d in others)


# --- building and opening ------------------------------------------------------------------------


def test_a_clean_package_verifies(package: bytes, trust: list) -> None:
    opened = open_package(package, trust)
    assert opened.sha256 == hashlib.sha256(package).hexdigest()
    assert [d.resource_id for d in opened.datasets] == [HOUSEHOLD_ID, LOW_INCOME_ID, VEHICLE_ID]
    household, low_income, vehicle = opened.datasets
    assert household.ok and household.problems == ()
    assert household.files == {"household.json": HOUSEHOLD_JSON}
    assert household.provider == "內政部戶政司"
    assert household.resource_name == "個人戶籍資料"
    assert low_income.ok and low_income.files == {"certificate.pdf": LOW_INCOME_PDF}
    assert low_income.provider == "衛生福利部社會救助及社工司"
    assert (vehicle.code, vehicle.ok, vehicle.files, vehicle.problems) == (504, False, {}, ())
    assert opened.dataset(VEHICLE_ID) is vehicle
    assert opened.dataset("API.unknown") is None


def test_package_layout(package: bytes, household_office: Provider) -> None:
    outer = dict(entries_of(package))
    assert set(outer) == {MANIFEST, f"{LOW_INCOME_ID}.zip", f"{HOUSEHOLD_ID}.zip"}
    assert "<code>504</code>" in outer[MANIFEST].decode() and VEHICLE_ID in outer[MANIFEST].decode()
    dataset = dict(entries_of(outer[f"{HOUSEHOLD_ID}.zip"]))
    assert set(dataset) == {CERTIFICATE, MANIFEST, "META-INFO/manifest.sha256withrsa", "household.json"}
    assert hashlib.sha256(HOUSEHOLD_JSON).hexdigest() in dataset[MANIFEST].decode()
    assert x509.load_der_x509_certificate(dataset[CERTIFICATE]) == household_office.certificate


def test_building_is_deterministic(datasets: list, package: bytes) -> None:
    assert build_package(CLIENT_ID, datasets) == package


def test_build_refuses_bad_input(datasets: list, household_office: Provider) -> None:
    with pytest.raises(ValueError):
        build_package(CLIENT_ID, datasets, tamper="certificate")
    with pytest.raises(ValueError):
        build_package("../x", datasets)
    with pytest.raises(ValueError):
        build_package(CLIENT_ID, [(DatasetSpec(HOUSEHOLD_ID, "x", 200, {"a.json": b"{}"}), None)])
    with pytest.raises(ValueError):
        build_package(CLIENT_ID, [(DatasetSpec(HOUSEHOLD_ID, "x", 200, {"../a.json": b"{}"}), household_office)])


def test_full_transport_round_trip(package: bytes, trust: list) -> None:
    secret = new_secret_hex().encode("ascii")
    token = jwe_encrypt(wrap_payload(CLIENT_ID, package), secret)
    received = unwrap_payload(jwe_decrypt(token, secret))
    assert received == package
    assert all(d.ok for d in open_package(received, trust).datasets if d.code == 200)


# --- authenticity problems refuse one dataset ----------------------------------------------------


def test_signature_tamper(datasets: list, trust: list) -> None:
    opened = open_package(build_package(CLIENT_ID, datasets, tamper="signature"), trust)
    assert_only(opened, HOUSEHOLD_ID, "signature does not verify")
    assert opened.dataset(HOUSEHOLD_ID).problems == ("signature does not verify",)


def test_digest_tamper(datasets: list, trust: list) -> None:
    opened = open_package(build_package(CLIENT_ID, datasets, tamper="digest"), trust)
    assert_only(opened, HOUSEHOLD_ID, "digest mismatch: household.json")
    assert opened.dataset(HOUSEHOLD_ID).problems == ("digest mismatch: household.json",)


def test_untrusted_authority(package: bytes) -> None:
    impostor = make_ca()
    assert impostor.certificate.subject == make_ca().certificate.subject
    opened = open_package(package, [impostor.certificate])
    for dataset in opened.datasets[:2]:
        assert dataset.problems == ("certificate not issued by a trusted authority",)
        assert dataset.files == {}
    assert open_package(package, []).datasets[0].problems == ("certificate not issued by a trusted authority",)


def test_leaf_certificate_in_trust_store_is_not_an_authority(package: bytes, household_office: Provider) -> None:
    opened = open_package(package, [household_office.certificate])
    assert "certificate not issued by a trusted authority" in opened.datasets[0].problems


def test_expired_provider_certificate(ca: Provider, datasets: list, trust: list) -> None:
    now = datetime.now(UTC)
    expired = provider_valid(ca, "內政部戶政司", now - timedelta(days=800), now - timedelta(days=1))
    opened = open_package(build_package(CLIENT_ID, [(datasets[0][0], expired), *datasets[1:]]), trust)
    assert_only(opened, HOUSEHOLD_ID, "certificate is outside its validity period")
    assert opened.dataset(HOUSEHOLD_ID).problems == ("certificate is outside its validity period",)


def test_not_yet_valid_provider_certificate(ca: Provider, datasets: list, trust: list) -> None:
    now = datetime.now(UTC)
    future = provider_valid(ca, "內政部戶政司", now + timedelta(days=1), now + timedelta(days=30))
    opened = open_package(build_package(CLIENT_ID, [(datasets[0][0], future), *datasets[1:]]), trust)
    assert_only(opened, HOUSEHOLD_ID, "certificate is outside its validity period")


def test_certificate_of_another_provider(package: bytes, welfare_office: Provider, trust: list) -> None:
    from cryptography.hazmat.primitives.serialization import Encoding

    dataset = replaced(inner(package, HOUSEHOLD_ID), CERTIFICATE, welfare_office.certificate.public_bytes(Encoding.DER))
    opened = open_package(with_inner(package, HOUSEHOLD_ID, dataset), trust)
    assert_only(opened, HOUSEHOLD_ID, "signature does not verify")


def test_unreadable_certificate(package: bytes, trust: list) -> None:
    dataset = replaced(inner(package, HOUSEHOLD_ID), CERTIFICATE, b"not a certificate")
    assert_only(open_package(with_inner(package, HOUSEHOLD_ID, dataset), trust), HOUSEHOLD_ID,
                "certificate cannot be read")


def test_unlisted_data_file(package: bytes, trust: list) -> None:
    dataset = added(inner(package, HOUSEHOLD_ID), "extra.csv", b"a,b\n")
    assert_only(open_package(with_inner(package, HOUSEHOLD_ID, dataset), trust), HOUSEHOLD_ID,
                "unlisted file: extra.csv")


def test_missing_data_file(package: bytes, trust: list) -> None:
    dataset = zip_of([(n, d) for n, d in entries_of(inner(package, HOUSEHOLD_ID)) if n != "household.json"])
    assert_only(open_package(with_inner(package, HOUSEHOLD_ID, dataset), trust), HOUSEHOLD_ID,
                "missing file: household.json")


def test_missing_signature(package: bytes, trust: list) -> None:
    dataset = zip_of([(n, d) for n, d in entries_of(inner(package, HOUSEHOLD_ID)) if not n.endswith("withrsa")])
    assert_only(open_package(with_inner(package, HOUSEHOLD_ID, dataset), trust), HOUSEHOLD_ID,
                "missing META-INFO/manifest.sha256withrsa")


def test_malformed_dataset_manifest(package: bytes, trust: list) -> None:
    dataset = replaced(inner(package, HOUSEHOLD_ID), MANIFEST, b"<files><file>")
    assert_only(open_package(with_inner(package, HOUSEHOLD_ID, dataset), trust), HOUSEHOLD_ID,
                f"{MANIFEST} is not well-formed XML")


def test_listed_dataset_without_its_zip(package: bytes, trust: list) -> None:
    outer = zip_of([(n, d) for n, d in entries_of(package) if n != f"{HOUSEHOLD_ID}.zip"])
    assert_only(open_package(outer, trust), HOUSEHOLD_ID, f"package has no {HOUSEHOLD_ID}.zip")


# --- structural refusals -------------------------------------------------------------------------


@pytest.mark.parametrize("data", [b"", b"not a zip", b"PK\x03\x04" + bytes(100), bytes(30)])
def test_not_a_zip(data: bytes, trust: list) -> None:
    with pytest.raises(MyDataPackageError):
        open_package(data, trust)


def test_package_without_manifest(package: bytes, trust: list) -> None:
    with pytest.raises(MyDataPackageError, match="manifest"):
        open_package(zip_of([(n, d) for n, d in entries_of(package) if n != MANIFEST]), trust)


def test_package_larger_than_the_limit(package: bytes, trust: list) -> None:
    with pytest.raises(MyDataPackageError, match="larger"):
        open_package(package, trust, Limits(max_package_bytes=len(package) - 1))


def test_too_many_entries(trust: list) -> None:
    with pytest.raises(MyDataPackageError, match="too many"):
        open_package(zip_of([(f"f{i}.json", b"{}") for i in range(201)]), trust)


def test_total_uncompressed_limit(package: bytes, trust: list) -> None:
    with pytest.raises(MyDataPackageError, match="total"):
        open_package(package, trust, Limits(max_total_uncompressed=len(package) // 2))


def test_zip_bomb_is_refused_without_inflating_it(trust: list) -> None:
    bomb = bomb_zip()
    assert len(bomb) < MIB
    tracemalloc.start()
    try:
        with pytest.raises(MyDataPackageError, match="bomb.json"):
            open_package(bomb, trust)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 5 * MIB


def test_zip_bomb_with_lying_size_header_is_refused(trust: list) -> None:
    liar = lie_about_size(bomb_zip(megabytes=2), 1000)
    tracemalloc.start()
    try:
        with pytest.raises(MyDataPackageError):
            open_package(liar, trust)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < MIB


def test_compression_ratio_limit_alone(trust: list) -> None:
    generous = Limits(max_entry_bytes=100 * MIB, max_total_uncompressed=100 * MIB)
    with pytest.raises(MyDataPackageError, match="ratio"):
        open_package(bomb_zip(megabytes=2), trust, generous)


def test_small_entries_may_compress_well(package: bytes, trust: list) -> None:
    spaced = added(package, "padding.txt", b" " * 60_000)
    assert open_package(spaced, trust).datasets[0].ok


def test_zip_bomb_inside_a_dataset(package: bytes, trust: list) -> None:
    dataset = added(inner(package, HOUSEHOLD_ID), "bomb.json", bytes(30 * MIB))
    with pytest.raises(MyDataPackageError):
        open_package(with_inner(package, HOUSEHOLD_ID, dataset), trust)


@pytest.mark.parametrize("name", ["../evil.json", "/etc/evil.json", "a/../../evil.json", "..\\evil.json",
                                  "C:evil.json", "a//evil.json", "./evil.json", "evil\x01.json"])
def test_unsafe_names_in_the_package(name: str, package: bytes, trust: list) -> None:
    with pytest.raises(MyDataPackageError, match="unsafe"):
        open_package(added(package, name, b"{}"), trust)


def test_name_with_nul_byte(package: bytes, trust: list) -> None:
    """zipfile cuts a name at NUL when reading; the raw name must be refused instead."""
    patched = added(package, "evil#.json", b"{}").replace(b"evil#.json", b"evil\x00.json")
    with pytest.raises(MyDataPackageError, match="unsafe"):
        open_package(patched, trust)


def test_path_traversal_inside_a_dataset(package: bytes, trust: list) -> None:
    dataset = added(inner(package, HOUSEHOLD_ID), "../evil.json", b"{}")
    with pytest.raises(MyDataPackageError, match="unsafe"):
        open_package(with_inner(package, HOUSEHOLD_ID, dataset), trust)


@pytest.mark.parametrize("duplicate", ["household.json", "HOUSEHOLD.json"])
def test_duplicate_names(duplicate: str, package: bytes, trust: list) -> None:
    dataset = added(inner(package, HOUSEHOLD_ID), duplicate, b"{}")
    with pytest.raises(MyDataPackageError, match="duplicate"):
        open_package(with_inner(package, HOUSEHOLD_ID, dataset), trust)


def test_zip_nested_inside_a_dataset(package: bytes, trust: list) -> None:
    dataset = added(inner(package, HOUSEHOLD_ID), "deeper.zip", zip_of([("x.json", b"{}")]))
    with pytest.raises(MyDataPackageError, match="nested"):
        open_package(with_inner(package, HOUSEHOLD_ID, dataset), trust)


def test_zip_disguised_as_data_inside_a_dataset(package: bytes, trust: list) -> None:
    dataset = added(inner(package, HOUSEHOLD_ID), "data.json", zip_of([("x.json", b"{}")]))
    with pytest.raises(MyDataPackageError, match="nested"):
        open_package(with_inner(package, HOUSEHOLD_ID, dataset), trust)


@pytest.mark.parametrize("xml", [BILLION_LAUGHS, EXTERNAL_ENTITY], ids=["billion-laughs", "external-entity"])
def test_package_manifest_with_a_dtd(xml: bytes, package: bytes, trust: list) -> None:
    with pytest.raises(MyDataPackageError, match="DTD"):
        open_package(replaced(package, MANIFEST, xml), trust)


@pytest.mark.parametrize("xml", [BILLION_LAUGHS, EXTERNAL_ENTITY], ids=["billion-laughs", "external-entity"])
def test_dataset_manifest_with_a_dtd(xml: bytes, package: bytes, trust: list) -> None:
    dataset = replaced(inner(package, HOUSEHOLD_ID), MANIFEST, xml)
    with pytest.raises(MyDataPackageError, match="DTD"):
        open_package(with_inner(package, HOUSEHOLD_ID, dataset), trust)


@pytest.mark.parametrize("xml", [
    b"<files><file>",
    b"<datasets/>",
    b"<files><file><resource_id>API.x</resource_id><code>ok</code></file></files>",
    b"<files><file><code>200</code></file></files>",
    b"<files><file><filename>../x.zip</filename><resource_id>API.x</resource_id><code>200</code></file></files>",
    (b"<files><file><resource_id>API.x</resource_id><code>504</code></file>"
     b"<file><resource_id>API.x</resource_id><code>504</code></file></files>"),
], ids=["unclosed", "wrong-root", "code", "no-resource-id", "traversal", "listed-twice"])
def test_malformed_package_manifest(xml: bytes, package: bytes, trust: list) -> None:
    with pytest.raises(MyDataPackageError):
        open_package(replaced(package, MANIFEST, xml), trust)


# --- the JSON wrapping ---------------------------------------------------------------------------


def test_wrap_payload_shape() -> None:
    zip_bytes = bytes(range(256)) * 3
    document = orjson.loads(wrap_payload(CLIENT_ID, zip_bytes))
    assert document["filename"] == f"{CLIENT_ID}.zip"
    prefix, _, encoded = document["data"].partition("data:")
    assert prefix == "application/zip;"
    assert "+" not in encoded and "/" not in encoded and ("-" in encoded or "_" in encoded)
    assert unwrap_payload(wrap_payload(CLIENT_ID, zip_bytes)) == zip_bytes


def test_unwrap_tolerates_standard_alphabet_and_missing_padding() -> None:
    zip_bytes = bytes(range(256)) + b"x"
    standard = base64.b64encode(zip_bytes).decode().rstrip("=")
    payload = orjson.dumps({"filename": "a.zip", "data": "application/zip;data:" + standard})
    assert unwrap_payload(payload) == zip_bytes


@pytest.mark.parametrize("payload", [
    b"",
    b"not json",
    b"[]",
    b'"application/zip;data:AAAA"',
    b'{"filename": "CLI.a1B2c3D4e5.zip"}',
    b'{"data": "application/zip;data:AAAA"}',
    b'{"filename": 1, "data": "application/zip;data:AAAA"}',
    b'{"filename": "CLI.a1B2c3D4e5.txt", "data": "application/zip;data:AAAA"}',
    b'{"filename": "CLI.a1B2c3D4e5.zip", "data": "AAAA"}',
    b'{"filename": "CLI.a1B2c3D4e5.zip", "data": "application/pdf;data:AAAA"}',
    b'{"filename": "CLI.a1B2c3D4e5.zip", "data": "application/zip;data:"}',
    b'{"filename": "CLI.a1B2c3D4e5.zip", "data": "application/zip;data:AA AA"}',
    b'{"filename": "CLI.a1B2c3D4e5.zip", "data": "application/zip;data:A"}',
    b'{"filename": "CLI.a1B2c3D4e5.zip", "data": "application/zip;data:AA=A"}',
    b'{"filename": "CLI.a1B2c3D4e5.zip", "data": ["application/zip;data:AAAA"]}',
])
def test_unwrap_refuses_malformed_payloads(payload: bytes) -> None:
    with pytest.raises(MyDataPackageError):
        unwrap_payload(payload)
