"""Counter e-signature: the clerk shows a one-time link, the citizen signs on their own phone."""
from __future__ import annotations

import base64
import hashlib
import io
import random
import re
import threading
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from PIL import Image, ImageDraw
from pypdf import PdfReader
from sqlalchemy import func, select, update

from engine.access import Actor
from engine.db import reading, transaction, utcnow
from engine.models import AuditEvent, Document, User
from tests.conftest import CSRF_RE
from tests.engine.test_cases import application, uploads, with_uploads
from webapp import services
from webapp.auth import hash_password
from webapp.signatures.models import SignatureRequest

from .flow import text_of

LINK_RE = re.compile(r'id="signature-link"[^>]*>([^<]+)<')
GONE = "此簽名連結已失效"
APPLICANT = "南瀛營造股份有限公司"  # the demo user "company"
APPLICANT_MASKED = "南○○○○○○○○司"


# ---------------------------------------------------------------- helpers

def _actor(svc, username: str) -> Actor:
    with reading(svc.sessions) as s:
        return Actor.from_user(s.scalar(select(User).where(User.username == username)))


def start_case(app, clerk: str = "tb.counter", channel: str = "counter") -> str:
    """A permit application taken at the counter by ``clerk`` for the company (or one it filed online)."""
    with app.app_context():
        svc = services.get()
        company = _actor(svc, "company")
        if channel == "counter":
            result = svc.engine.start_case(_actor(svc, clerk), "large_vehicle_permit", with_uploads(application(svc)),
                                           uploads=uploads(), applicant_id=company.user_id, channel="counter")
        else:
            result = svc.engine.start_case(company, "large_vehicle_permit", with_uploads(application(svc)),
                                           uploads=uploads())
    return result.case_id


def signature_png(width: int = 600, height: int = 200) -> bytes:
    image = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    ImageDraw.Draw(image).line([(20, 150), (150, 40), (300, 160), (450, 50), (580, 120)],
                               fill=(17, 17, 17, 255), width=5)
    return _png(image)


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def ask_to_sign(clerk, case_id: str) -> tuple[str, str]:
    """The clerk presses 「請民眾簽名」; returns (request id, the phone's path)."""
    opened = clerk.post("/counter/signatures", {"case_id": case_id})
    assert opened.status_code == 303, text_of(opened)[:500]
    request_id = opened.location.rstrip("/").rsplit("/", 1)[1]
    page = clerk.get(opened.location)
    assert page.status_code == 200
    link = LINK_RE.search(page.get_data(as_text=True)).group(1).strip()
    assert link.startswith("http://onestop.test/sign/")
    return request_id, urlsplit(link).path


class Phone:
    """The citizen's phone: no sign-in, only the link."""

    def __init__(self, app, path: str):
        self.http = app.test_client()
        self.path = path
        self.page = None

    def open(self):
        self.page = self.http.get(self.path)
        return self.page

    def sign(self, value: str | None):
        match = CSRF_RE.search(self.page.get_data(as_text=True)) if self.page is not None else None
        token = match.group(1) if match else self._token()
        return self.http.post(self.path, data={"csrf_token": token, "signature": value or ""})

    def sign_json(self, value: str):
        token = CSRF_RE.search(self.page.get_data(as_text=True)).group(1)
        return self.http.post(self.path, json={"signature": value}, headers={"X-CSRFToken": token})

    def _token(self) -> str:
        return CSRF_RE.search(self.http.get("/login").get_data(as_text=True)).group(1)


def stored(app, request_id: str) -> SignatureRequest:
    with app.app_context(), reading(services.get().sessions) as s:
        return s.get(SignatureRequest, request_id)


def case_documents(app, case_id: str) -> list[Document]:
    with app.app_context(), reading(services.get().sessions) as s:
        return list(s.scalars(select(Document).where(Document.case_id == case_id,
                                                     Document.filename == "申請書（已簽名）.pdf")))


def audit_actions(app, case_id: str) -> list[tuple[str, str]]:
    with app.app_context(), reading(services.get().sessions) as s:
        rows = s.execute(select(AuditEvent.action, AuditEvent.result)
                         .where(AuditEvent.case_id == case_id, AuditEvent.action.like("signature.%"))
                         .order_by(AuditEvent.id))
        return [tuple(row) for row in rows]


def pdf_text(reader: PdfReader) -> str:
    return "\n".join(page.extract_text() for page in reader.pages)


def image_xobjects(reader: PdfReader) -> int:
    found = 0
    for page in reader.pages:
        xobjects = page["/Resources"].get_object().get("/XObject")
        for ref in (xobjects.get_object().values() if xobjects else []):
            found += ref.get_object().get("/Subtype") == "/Image"
    return found


# ---------------------------------------------------------------- the whole way

def test_the_citizen_signs_on_the_phone_and_the_clerk_gets_the_signed_application(app, login):
    case_id = start_case(app)
    clerk = login("tb.counter")
    case_page = text_of(clerk.get(f"/my/cases/{case_id}"))
    assert "請民眾簽名" in case_page
    assert "請民眾簽名" not in text_of(login("company").get(f"/my/cases/{case_id}"))

    request_id, path = ask_to_sign(clerk, case_id)
    clerk_page = clerk.get(f"/counter/signatures/{request_id}").get_data(as_text=True)
    assert '<svg' in clerk_page and 'class="qr"' in clerk_page
    assert clerk.get(f"/counter/signatures/{request_id}/status").get_json()["status"] == "pending"
    token = path.rsplit("/", 1)[1]
    row = stored(app, request_id)
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest() and token not in row.token_hash
    assert row.document_sha256 == hashlib.sha256(row_document(app, request_id)).hexdigest()
    assert row.expires_at - row.created_at == timedelta(minutes=5)

    phone = Phone(app, path)
    shown = phone.open()
    assert shown.status_code == 200
    assert shown.headers["Cache-Control"] == "no-store"
    assert shown.headers["Referrer-Policy"] == "no-referrer"
    html = shown.get_data(as_text=True)
    assert APPLICANT_MASKED in html and APPLICANT not in html
    assert row.document_sha256[:16] in html and "KLA-1234" in html  # what is signed: the vehicles too

    png = signature_png()
    done = phone.sign(data_url(png))
    assert done.status_code == 200, text_of(done)[:500]
    assert "簽名完成" in text_of(done)

    status = clerk.get(f"/counter/signatures/{request_id}/status").get_json()
    assert status["status"] == "signed" and status["signed_at"]
    assert base64.b64decode(status["signature"].split(",", 1)[1]) == png
    (document,) = case_documents(app, case_id)
    assert status["document_url"] == f"/documents/{document.id}"
    downloaded = clerk.get(status["document_url"])
    assert downloaded.status_code == 200 and downloaded.data == document.content

    row = stored(app, request_id)
    assert (row.status, row.signed_document_id) == ("signed", document.id)
    assert row.used_at is not None and row.signed_at is not None
    reader = PdfReader(io.BytesIO(document.content))
    text = re.sub(r"\s+", "", pdf_text(reader))
    assert "簽署時間" in text and "文件雜湊SHA-256" in text and row.document_sha256 in text
    assert image_xobjects(reader) >= 1
    unsigned = reader.attachments["申請書.pdf"][0]
    assert hashlib.sha256(unsigned).hexdigest() == row.document_sha256 == document_hash_shown(html, row)

    assert "民眾已簽名" in text_of(clerk.get(f"/my/cases/{case_id}"))
    assert audit_actions(app, case_id) == [("signature.request", "ok"), ("signature.view", "ok"),
                                           ("signature.sign", "ok")]


def row_document(app, request_id: str) -> bytes:
    with app.app_context(), reading(services.get().sessions) as s:
        return s.scalar(select(SignatureRequest.document).where(SignatureRequest.id == request_id))


def document_hash_shown(html: str, row: SignatureRequest) -> str:
    """The phone showed the first 16 hex digits of the document it was signing."""
    assert re.search(r'id="signing-hash"[^>]*>' + row.document_sha256[:16] + "<", html)
    return row.document_sha256


def test_the_application_document_prints_the_form_with_its_labels_and_masked_ids(app, login):
    case_id = start_case(app)
    request_id, _path = ask_to_sign(login("tb.counter"), case_id)
    text = pdf_text(PdfReader(io.BytesIO(row_document(app, request_id))))
    flat = re.sub(r"\s+", "", text)
    for expected in ("申請書", "大型車輛行駛管制道路通行證", "車牌號碼", "KLA-1234", "行駛路線", "永康交流道",
                     "5321****", "待簽名"):
        assert expected in flat, expected
    assert "53212539" not in flat


# ---------------------------------------------------------------- once, and only for a while

def test_the_link_works_once(app, login):
    case_id = start_case(app)
    request_id, path = ask_to_sign(login("tb.counter"), case_id)
    phone = Phone(app, path)
    phone.open()
    assert phone.sign(data_url(signature_png())).status_code == 200
    first = stored(app, request_id)

    again = phone.sign(data_url(signature_png(500, 180)))
    assert again.status_code == 410
    assert GONE in text_of(again) and "只能使用一次" in text_of(again)
    later = stored(app, request_id)
    assert (later.signed_at, later.signed_document_id, later.used_at) == (
        first.signed_at, first.signed_document_id, first.used_at)
    assert len(case_documents(app, case_id)) == 1
    reopened = Phone(app, path).open()
    assert reopened.status_code == 410 and APPLICANT_MASKED not in reopened.get_data(as_text=True)
    assert reopened.headers["Cache-Control"] == "no-store"


def test_an_expired_link_changes_nothing(app, login):
    case_id = start_case(app)
    clerk = login("tb.counter")
    request_id, path = ask_to_sign(clerk, case_id)
    phone = Phone(app, path)
    phone.open()
    with app.app_context(), transaction(services.get().sessions) as s:
        s.execute(update(SignatureRequest).where(SignatureRequest.id == request_id)
                  .values(expires_at=utcnow() - timedelta(seconds=1)))

    late = phone.sign(data_url(signature_png()))
    assert late.status_code == 410 and "超過使用時限" in text_of(late)
    assert Phone(app, path).open().status_code == 410
    row = stored(app, request_id)
    assert (row.status, row.used_at, row.signed_document_id) == ("pending", None, None)
    assert case_documents(app, case_id) == []
    assert clerk.get(f"/counter/signatures/{request_id}/status").get_json()["status"] == "expired"


def test_unknown_links_are_gone_without_saying_whose(app):
    response = Phone(app, "/sign/" + "x" * 43).open()
    assert response.status_code == 410
    assert GONE in text_of(response) and "不存在或已失效" in text_of(response)


def test_the_ttl_comes_from_configuration(app, login):
    app.config["SIGNATURE_TTL_MINUTES"] = 2
    request_id, _path = ask_to_sign(login("tb.counter"), start_case(app))
    row = stored(app, request_id)
    assert row.expires_at - row.created_at == timedelta(minutes=2)


# ---------------------------------------------------------------- what a signature must be

def _blank() -> bytes:
    return _png(Image.new("RGBA", (600, 200), (0, 0, 0, 0)))


def _white() -> bytes:
    return _png(Image.new("RGB", (600, 200), (255, 255, 255)))


def _oversized() -> bytes:
    noise = Image.frombytes("RGB", (400, 400), random.Random(8).randbytes(400 * 400 * 3))
    png = _png(noise)
    assert len(png) > 200 * 1024
    return png


def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (600, 200), (0, 0, 0)).save(out, "JPEG")
    return out.getvalue()


@pytest.mark.parametrize("value, message", [
    ("", "請先在框內簽名"),
    (data_url(_blank()), "沒有偵測到簽名筆跡"),
    (data_url(_white()), "沒有偵測到簽名筆跡"),
    (data_url(_oversized()), "200 KB 以內的 PNG"),
    ("data:image/png;base64," + base64.b64encode(_jpeg()).decode(), "200 KB 以內的 PNG"),
    ("data:image/jpeg;base64," + base64.b64encode(_jpeg()).decode(), "200 KB 以內的 PNG"),
    ("data:image/png;base64,not base64!", "200 KB 以內的 PNG"),
    (data_url(signature_png(20, 10)), "尺寸不正確"),
], ids=["missing", "blank", "white", "oversized", "jpeg-as-png", "jpeg", "garbage", "tiny"])
def test_a_bad_signature_is_a_field_error_and_the_request_stays_pending(app, login, value, message):
    case_id = start_case(app)
    request_id, path = ask_to_sign(login("tb.counter"), case_id)
    phone = Phone(app, path)
    phone.open()
    refused = phone.sign(value)
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    assert re.search(r'class="field__error" id="signature__error">[^<]*' + re.escape(message), html)
    assert refused.headers["Cache-Control"] == "no-store"
    row = stored(app, request_id)
    assert (row.status, row.used_at) == ("pending", None)
    assert case_documents(app, case_id) == []
    phone.page = refused
    assert phone.sign(data_url(signature_png())).status_code == 200  # and the citizen can try again


def test_json_submissions_answer_in_json(app, login):
    case_id = start_case(app)
    _request_id, path = ask_to_sign(login("tb.counter"), case_id)
    phone = Phone(app, path)
    phone.open()
    refused = phone.sign_json(data_url(_blank()))
    assert refused.status_code == 422 and "signature" in refused.get_json()["errors"]
    signed = phone.sign_json(data_url(signature_png()))
    assert signed.status_code == 200 and signed.get_json()["status"] == "signed"
    assert phone.sign_json(data_url(signature_png())).status_code == 410


def test_the_phone_must_send_the_pages_csrf_token(app, login):
    case_id = start_case(app)
    request_id, path = ask_to_sign(login("tb.counter"), case_id)
    phone = Phone(app, path)
    phone.open()
    forged = phone.http.post(path, data={"signature": data_url(signature_png())})
    assert forged.status_code == 400
    assert stored(app, request_id).status == "pending"


# ---------------------------------------------------------------- who may ask

def _add_counter_clerk(app, username: str, agency: str) -> None:
    with app.app_context(), transaction(services.get().sessions) as s:
        s.add(User(username=username, display_name="邱服務員", kind="staff", roles=["counter_clerk"],
                   agency_code=agency, password_hash=hash_password("onestop-demo")))


def test_only_counter_clerks_who_may_see_the_case_reach_its_requests(app, login):
    case_id = start_case(app)
    request_id, _path = ask_to_sign(login("tb.counter"), case_id)
    _add_counter_clerk(app, "sb.counter", "SB")
    for username in ("sb.counter", "tb.clerk", "citizen", "company"):
        client = login(username)
        assert client.get(f"/counter/signatures/{request_id}").status_code == 404, username
        assert client.get(f"/counter/signatures/{request_id}/status").status_code == 404, username
        assert client.post("/counter/signatures", {"case_id": case_id}).status_code == 404, username
        assert "請民眾簽名" not in text_of(client.get(f"/my/cases/{case_id}")), username
    assert app.test_client().get(f"/counter/signatures/{request_id}").status_code in (302, 401)
    assert stored(app, request_id).status == "pending"
    with app.app_context(), reading(services.get().sessions) as s:
        assert s.scalar(select(func.count()).select_from(SignatureRequest)) == 1


def test_online_applications_are_not_signed_at_the_counter(app, login):
    case_id = start_case(app, channel="online")
    clerk = login("tb.counter")
    assert "請民眾簽名" not in text_of(clerk.get(f"/my/cases/{case_id}"))
    assert clerk.post("/counter/signatures", {"case_id": case_id}).status_code == 404


def test_a_new_request_cancels_the_pending_one(app, login):
    case_id = start_case(app)
    clerk = login("tb.counter")
    first_id, first_path = ask_to_sign(clerk, case_id)
    second_id, second_path = ask_to_sign(clerk, case_id)
    assert first_id != second_id

    old = Phone(app, first_path).open()
    assert old.status_code == 410 and "已作廢" in text_of(old)
    assert stored(app, first_id).status == "cancelled"
    assert clerk.get(f"/counter/signatures/{first_id}/status").get_json()["status"] == "cancelled"
    phone = Phone(app, second_path)
    assert phone.open().status_code == 200
    assert phone.sign(data_url(signature_png())).status_code == 200
    assert "民眾已簽名" in text_of(clerk.get(f"/my/cases/{case_id}"))


def test_two_phones_submitting_at_once_sign_exactly_once(app, login):
    case_id = start_case(app)
    request_id, path = ask_to_sign(login("tb.counter"), case_id)
    phones = [Phone(app, path) for _ in range(2)]
    for phone in phones:
        assert phone.open().status_code == 200
    start = threading.Barrier(len(phones))
    answers: list[int] = []

    def submit(phone: Phone) -> None:
        start.wait()
        answers.append(phone.sign(data_url(signature_png())).status_code)

    threads = [threading.Thread(target=submit, args=(p,)) for p in phones]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(answers) == [200, 410]
    assert len(case_documents(app, case_id)) == 1
    assert stored(app, request_id).signed_document_id == case_documents(app, case_id)[0].id
    assert [a for a in audit_actions(app, case_id) if a == ("signature.sign", "ok")] == [("signature.sign", "ok")]


def test_the_link_is_shown_only_where_it_was_made(app, login):
    """The database keeps the token's hash only; another screen can follow the status, not show the QR code."""
    request_id, _path = ask_to_sign(login("tb.counter"), start_case(app))
    elsewhere = login("tb.counter").get(f"/counter/signatures/{request_id}")
    html = elsewhere.get_data(as_text=True)
    assert elsewhere.status_code == 200 and elsewhere.headers["Cache-Control"] == "no-store"
    assert 'id="signature-link"' not in html and 'class="qr"' not in html
    assert "只顯示在產生它的畫面" in html and "等待民眾簽名" in html
