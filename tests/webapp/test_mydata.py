"""MyData end to end over real HTTP: the app and the sandbox each on a loopback port."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
import requests
from sqlalchemy import select

from engine.db import reading, transaction, utcnow
from engine.models import Draft, MyDataRecord, MyDataTransaction
from handlers.mydata import client as mydata_client
from handlers.mydata.sandbox.records import PROVIDERS
from webapp import services

from .conftest import CSRF, World
VEHICLES, COMPANY = "API.60GGfgGX1A", "API.ea0klQl5Wp"


def _draft_data(world: World, draft_id: str) -> tuple[dict, dict]:
    with world.app.app_context(), reading(services.get().sessions) as s:
        draft = s.get(Draft, draft_id)
        return draft.data, draft.sources


def test_consent_prefills_company_and_vehicles_and_purges_the_package(world):
    http = world.browser()
    draft_id, _ = world.draft(http)
    waiting = world.consent(http, draft_id, typed={"purpose-project_name": "南科廠房新建工程"})
    assert "/mydata/transfers/" in waiting.url and "資料下載中" in waiting.text
    world.sweep()
    tx = world.transfer()
    assert tx.status == "extracted" and tx.package_sha256 and tx.purged_at
    page = http.get(waiting.url)
    assert page.url.endswith(f"/drafts/{draft_id}")
    assert "已由 MyData 帶入" in page.text and "KLA-1234" in page.text
    assert 'value="南科廠房新建工程"' in page.text  # what was typed before leaving is kept
    data, sources = _draft_data(world, draft_id)
    assert data["applicant"]["id_no"] == "53212539" and data["applicant"]["name"] == "南瀛營造股份有限公司"
    assert sorted(v["plate"] for v in data["vehicles"]) == ["KLA-1234", "KLB-5678"]
    assert all("gross_weight" not in v for v in data["vehicles"])  # 車籍 does not carry it
    assert sources["vehicles-0-plate"] == VEHICLES and sources["applicant-id_no"] == COMPANY
    assert "車籍資料" in page.text and "公司登記資料" in page.text
    with world.app.app_context(), reading(services.get().sessions) as s:
        records = {r.resource_id: r for r in s.scalars(select(MyDataRecord))}
        assert records[VEHICLES].verified and records[COMPANY].verified
        from engine.models import MyDataPackage

        assert s.get(MyDataPackage, tx.tx_id) is None


def test_refusal_explains_and_keeps_what_was_typed(world):
    http = world.browser()
    draft_id, _ = world.draft(http)
    back = world.consent(http, draft_id, decision="refuse", typed={"purpose-project_name": "倉儲工程"})
    assert back.url.endswith(f"/drafts/{draft_id}")
    assert "您未同意提供資料" in back.text and "上傳" in back.text
    assert 'value="倉儲工程"' in back.text
    assert world.transfer().status == "refused"


def test_wrong_person_at_mydata_is_code_409(world):
    http = world.browser()
    draft_id, _ = world.draft(http)
    back = world.consent(http, draft_id, national_id="A123456789")
    assert "身分與申請人不同" in back.text


def test_provider_failure_asks_for_an_upload(world):
    world.faults(unable=[VEHICLES])
    http = world.browser()
    draft_id, _ = world.draft(http)
    waiting = world.consent(http, draft_id)
    world.sweep()
    assert world.transfer().status == "failed"
    page = http.get(waiting.url)
    assert "無法取得或驗證 MyData 資料" in page.text and "上傳" in page.text


def test_slow_preparation_waits_for_retry_after(world):
    world.faults(prepare_seconds=3600)
    http = world.browser()
    draft_id, _ = world.draft(http)
    world.consent(http, draft_id)
    world.sweep()
    tx = world.transfer()
    assert tx.status == "authorized" and tx.next_attempt_at >= utcnow() + timedelta(seconds=9)
    world.faults(prepare_seconds=0)
    world.sweep()  # not due yet: nothing happens
    assert world.transfer().status == "authorized"
    world.sweep(later=timedelta(hours=1))
    assert world.transfer().status == "extracted"


@pytest.mark.parametrize("tamper, problem", [("signature", "signature"), ("digest", "digest")])
def test_tampered_package_is_never_used(world, tamper, problem):
    world.faults(tamper=tamper)
    http = world.browser()
    draft_id, _ = world.draft(http)
    waiting = world.consent(http, draft_id)
    world.sweep()
    page = http.get(waiting.url)
    data, sources = _draft_data(world, draft_id)
    assert not any(v == VEHICLES for v in sources.values())
    assert "KLA-1234" not in str(data.get("vehicles"))
    assert "請改為上傳文件" in page.text and "車籍資料" in page.text
    with world.app.app_context(), reading(services.get().sessions) as s:
        record = s.scalar(select(MyDataRecord).where(MyDataRecord.resource_id == VEHICLES))
        assert not record.verified and any(problem in p for p in record.problems)


def test_expired_ticket_and_repeated_download(world):
    http = world.browser()
    draft_id, _ = world.draft(http)
    world.consent(http, draft_id)
    world.sweep()
    tx = world.transfer()
    cfg = world.app.extensions["onestop"].mydata
    assert mydata_client.download(cfg, tx.permission_ticket).status == "already"  # 201: works once
    with world.app.app_context(), transaction(services.get().sessions) as s:
        again = s.get(MyDataTransaction, tx.tx_id)
        again.status, again.next_attempt_at = "authorized", utcnow()
    world.sweep()
    assert world.transfer().status == "extracted"  # 201 with records kept: nothing lost
    world.faults(expire_ticket=True)
    assert mydata_client.download(cfg, tx.permission_ticket).status == "gone"


def test_notify_is_idempotent_and_refuses_strangers(world):
    world.faults(notify_repeats=2)
    http = world.browser()
    draft_id, _ = world.draft(http)
    world.consent(http, draft_id)
    tx = world.transfer()
    assert tx.permission_ticket
    repeat = requests.post(f"{world.url}/mydata/sp-api", timeout=5, json={
        "tx_id": tx.tx_id, "permission_ticket": "another", "secret_key": "x"})
    assert repeat.status_code == 200 and world.transfer().permission_ticket == tx.permission_ticket
    unknown = requests.post(f"{world.url}/mydata/sp-api", timeout=5, json={
        "tx_id": "00000000-0000-0000-0000-000000000000", "permission_ticket": "t", "secret_key": "x"})
    assert unknown.status_code == 404
    malformed = requests.post(f"{world.url}/mydata/sp-api", timeout=5, json={"tx_id": 1})
    assert malformed.status_code == 400


def test_clerk_sees_the_mydata_panel_masked_until_revealed(world):
    from engine.models import AuditEvent

    http = world.browser()
    draft_id, _ = world.draft(http)
    world.consent(http, draft_id)
    world.sweep()
    submitted = world.submit_permit(http, draft_id)
    assert "/my/cases/" in submitted.url, submitted.text[:500]
    number = re.search(r"LVP-\d{4}-\d{6}", submitted.text).group(0)

    clerk = world.browser("tb.clerk")
    inbox = clerk.get(f"{world.url}/work/inbox").text
    task_id = re.search(rf'href="/work/tasks/([0-9a-f-]+)">{number}<', inbox).group(1)
    page = clerk.get(f"{world.url}/work/tasks/{task_id}").text
    panel = page[page.index('id="mydata-panel"'):]
    assert "車籍資料" in panel and "公司登記資料" in panel and "簽章及摘要驗證通過" in panel
    assert "KLA-1234" in panel and PROVIDERS[VEHICLES] in panel and PROVIDERS[COMPANY] in panel
    assert "臺南市永康區＊＊＊" in panel and "中正路100號" not in panel
    revealed = clerk.get(f"{world.url}/work/tasks/{task_id}?reveal=1").text
    assert "中正路100號" in revealed[revealed.index('id="mydata-panel"'):]
    with world.app.app_context(), reading(services.get().sessions) as s:
        views = s.scalars(select(AuditEvent).where(AuditEvent.action == "mydata.view")).all()
        assert len(views) == 2 and views[1].detail["revealed"] is True
    token = CSRF.search(revealed).group(1)
    clerk.post(f"{world.url}/work/tasks/{task_id}/claim", data={"csrf_token": token})
    refused = clerk.post(f"{world.url}/work/tasks/{task_id}", data={"csrf_token": token,
                                                                    "decision": "correction"})
    assert refused.status_code == 422 and 'id="mydata-panel"' in refused.text
    panel = refused.text[refused.text.index('id="mydata-panel"'):]
    assert "臺南市永康區＊＊＊" in panel  # masked again on the error page


def test_transfer_gives_up_after_the_eight_hour_window(world):
    world.faults(prepare_seconds=36000)
    http = world.browser()
    draft_id, _ = world.draft(http)
    waiting = world.consent(http, draft_id)
    world.sweep()
    world.sweep(later=timedelta(hours=8, minutes=1))
    assert world.transfer().status == "expired"
    page = http.get(waiting.url)
    assert page.url.endswith(f"/drafts/{draft_id}") and "8 小時" in page.text


def test_notify_requires_the_api_key_when_one_is_configured(world):
    from dataclasses import replace

    svc = world.app.extensions["onestop"]
    svc.mydata = replace(svc.mydata, sp_api_key="k3y")
    body = {"tx_id": "00000000-0000-0000-0000-000000000000", "permission_ticket": "t", "secret_key": "x"}
    assert requests.post(f"{world.url}/mydata/sp-api", json=body, timeout=5).status_code == 401
    keyed = requests.post(f"{world.url}/mydata/sp-api", json=body, timeout=5,
                          headers={"Authorization": "Bearer k3y"})
    assert keyed.status_code == 404  # past the key check; the transaction is unknown


def _counter_barcode(world, national_id: str = "B120863130") -> str:
    page = requests.post(f"{world.sandbox_url}/counter", data={"national_id": national_id}, timeout=5)
    return re.search(r'id="barcode">([0-9A-F]{8})<', page.text).group(1)


def test_counter_clerk_receives_the_data_with_barcode_and_otp(world):
    barcode = _counter_barcode(world)
    clerk = world.browser("tb.counter")
    token = CSRF.search(clerk.get(f"{world.url}/counter").text).group(1)
    otp_page = clerk.post(f"{world.url}/counter", data={"csrf_token": token, "barcode": barcode,
                                                        "service": "large_vehicle_permit"})
    assert "一次性密碼" in otp_page.text
    phone = requests.get(f"{world.sandbox_url}/counter/phone/{barcode}", timeout=5).text
    otp = re.search(r'id="otp">(\d{8})<', phone).group(1)
    token = CSRF.search(otp_page.text).group(1)
    waiting = clerk.post(otp_page.url, data={"csrf_token": token, "otp": otp})
    assert "資料下載中" in waiting.text
    world.sweep()
    draft = clerk.get(waiting.url)
    assert "/drafts/" in draft.url and "KLA-1234" in draft.text and "代理" in draft.text
    done = world.submit_permit(clerk, draft.url.rsplit("/", 1)[1])
    assert "/my/cases/" in done.url, done.text[:400]
    with world.app.app_context(), reading(services.get().sessions) as s:
        from engine.models import Case, User

        case = s.scalar(select(Case))
        applicant = s.get(User, case.applicant_id)
        assert applicant.username == "company" and case.channel == "counter"
        assert case.agent_id == s.scalar(select(User.id).where(User.username == "tb.counter"))
        assert world.transfer().case_id == case.id


def test_counter_wrong_passwords_lock_the_barcode(world):
    barcode = _counter_barcode(world)
    clerk = world.browser("tb.counter")
    token = CSRF.search(clerk.get(f"{world.url}/counter").text).group(1)
    otp_page = clerk.post(f"{world.url}/counter", data={"csrf_token": token, "barcode": barcode,
                                                        "service": "large_vehicle_permit"})
    for tries_left in (4, 3, 2, 1, 0):
        token = CSRF.search(clerk.get(otp_page.url).text).group(1)
        clerk.post(otp_page.url, data={"csrf_token": token, "otp": "00000000"})
        world.sweep()
        tx = world.transfer()
        assert tx.status == "otp_wrong" and f"{tries_left} tries left" in tx.last_error
    token = CSRF.search(clerk.get(f"{world.url}/counter").text).group(1)
    locked = clerk.post(f"{world.url}/counter", data={"csrf_token": token, "barcode": barcode,
                                                      "service": "large_vehicle_permit"})
    assert locked.status_code == 422 and "鎖定 15 分鐘" in locked.text


def test_every_return_code_has_a_message_and_a_next_step(world):
    from webapp.mydata.views import messages

    with world.app.test_request_context():
        texts = messages()
        for code, meaning in mydata_client.RETURN_CODES.items():
            message, step = texts[meaning]
            assert message, code
            assert step or code == 200, code


def test_transmission_records_are_kept_for_the_retention_period(world):
    from engine.models import MyDataPackage
    from handlers.mydata import jobs

    http = world.browser()
    draft_id, _ = world.draft(http)
    world.consent(http, draft_id)
    world.sweep()
    with world.app.app_context():
        sessions = services.get().sessions
        year = timedelta(days=365)
        assert jobs.purge_expired(sessions, year, utcnow() + timedelta(days=364)) == 0
        assert world.transfer() is not None
        assert jobs.purge_expired(sessions, year, utcnow() + timedelta(days=366)) == 1
        with reading(sessions) as s:
            assert s.scalar(select(MyDataRecord)) is None and s.scalar(select(MyDataPackage)) is None
    assert world.transfer() is None


def test_low_income_is_routed_by_the_registered_district_not_the_typed_one(world):
    from tests.webapp.test_low_income import application

    http = world.browser("lin")
    draft_id, _ = world.draft(http, "low_income")
    world.consent(http, draft_id, national_id="R223456785")
    world.sweep()
    data, sources = _draft_data(world, draft_id)
    assert data["applicant"]["district"] == "東區" and sources["applicant-district"] == "API.7QovE2Gev6"
    assert len(data["members"]) >= 2 and sources["members-0-name"] == "API.UDauDOLyZg"
    token = CSRF.search(http.get(f"{world.url}/drafts/{draft_id}").text).group(1)
    typed_elsewhere = application(**{"applicant-district": "永康區"})
    done = http.post(f"{world.url}/drafts/{draft_id}", data={**typed_elsewhere, "action": "submit",
                                                            "csrf_token": token})
    assert "/my/cases/" in done.url, done.text[:500]
    with world.app.app_context(), reading(services.get().sessions) as s:
        from engine.models import HumanTask

        task = s.scalar(select(HumanTask).where(HumanTask.status == "open"))
        assert task.agency_code == "D32-SOC"  # 東區, from 戶籍, although 永康區 was typed


def test_each_value_records_where_it_came_from(world):
    http = world.browser()
    draft_id, _ = world.draft(http)
    world.consent(http, draft_id)
    world.sweep()
    done = world.submit_permit(http, draft_id, **{"applicant-email": "company-x@example.tw",
                                                  "applicant-phone": "0912345678"})
    assert "/my/cases/" in done.url
    with world.app.app_context(), reading(services.get().sessions) as s:
        from engine.models import Case

        origin = s.scalar(select(Case)).provenance
    assert origin["vehicles-0-plate"] == f"mydata:{VEHICLES}"
    assert origin["applicant-id_no"] == f"mydata:{COMPANY}"
    assert origin["applicant-phone"] == "identity"  # from the signed-in account, kept as it was
    assert origin["applicant-email"] == "citizen"  # prefilled from the account, then changed
    assert origin["purpose-project_name"] == "citizen" and origin["vehicles-0-gross_weight"] == "citizen"
    assert origin["attachments-contract"] == "citizen"


def test_long_term_care_takes_the_recipient_welfare_and_certificate_from_mydata(world):
    from tests.webapp.test_long_term_care import application

    http = world.browser("lin")
    draft_id, _ = world.draft(http, "long_term_care")
    world.consent(http, draft_id, national_id="R223456785")
    world.sweep()
    data, sources = _draft_data(world, draft_id)
    assert data["recipient"]["birth_date"] == "1948-09-05" and data["recipient"]["district"] == "東區"
    assert data["welfare_status"] == "低收入戶" and sources["welfare_status"] == "API.AbAYGIjoYw"
    assert data["disability"]["certificate"] is True and sources["disability-certificate"] == "API.nyhnLM1fve"
    typed = {k: v for k, v in application().items()
             if not k.startswith("recipient-") and k != "welfare_status"}
    page = http.get(f"{world.url}/drafts/{draft_id}").text
    token = CSRF.search(page).group(1)
    form = {**typed, "recipient-phone": "0912345678", "disability-certificate": "true",
            "disability-level": "中度", "welfare_status": "低收入戶", "action": "submit", "csrf_token": token,
            **{f"recipient-{k}": v for k, v in data["recipient"].items() if isinstance(v, str)}}
    done = http.post(f"{world.url}/drafts/{draft_id}", data=form)
    assert "/my/cases/" in done.url, done.text[:800]
    with world.app.app_context(), reading(services.get().sessions) as s:
        from engine.models import Case, HumanTask

        case = s.scalar(select(Case).where(Case.service_key == "long_term_care"))
        triage = s.scalar(select(HumanTask).where(HumanTask.case_id == case.id))
    assert case.provenance["recipient-birth_date"] == "mydata:API.7QovE2Gev6"
    assert case.provenance["disability-certificate"] == "mydata:API.nyhnLM1fve"
    assert "年滿 65 歲（78 歲）" in triage.context["instructions"]
    assert "領有身心障礙證明" in triage.context["instructions"]


def _authorise_in_browser(world, principal: requests.Session, agent: requests.Session, service: str) -> str:
    from datetime import date

    until = (date.today() + timedelta(days=60)).isoformat()
    token = CSRF.search(principal.get(f"{world.url}/my/agents").text).group(1)
    created = principal.post(f"{world.url}/my/agents", data={"agent_national_id": "A123456789",
                                                             "agent_birth_date": "1985-06-12", "services": service,
                                                             "valid_until": until, "csrf_token": token})
    serial = re.search(r"代辦序號 ([A-Z0-9]{8})", created.text).group(1)
    token = CSRF.search(agent.get(f"{world.url}/my/agents").text).group(1)
    agent.post(f"{world.url}/my/agents/preview", data={"serial": serial, "csrf_token": token})
    agent.post(f"{world.url}/my/agents/accept", data={"serial": serial, "csrf_token": token})
    page = agent.get(f"{world.url}/services/{service}").text
    return re.search(r'name="principal" value="([0-9a-f]{32})"', page).group(1)


def test_an_agents_application_gets_mydata_when_the_principal_consents(world):
    lin, wang = world.browser("lin"), world.browser("citizen")
    principal = _authorise_in_browser(world, lin, wang, "long_term_care")
    token = CSRF.search(wang.get(f"{world.url}/services/long_term_care").text).group(1)
    draft = wang.post(f"{world.url}/services/long_term_care/apply", data={"csrf_token": token,
                                                                          "principal": principal})
    draft_id = draft.url.rsplit("/", 1)[1]
    assert "請本人同意以 MyData 帶入資料" in draft.text and 'id="mydata-start"' not in draft.text

    token = CSRF.search(draft.text).group(1)  # the agent cannot hand over their own records instead
    assert wang.post(f"{world.url}/mydata/start/{draft_id}", data={"csrf_token": token},
                     allow_redirects=False).status_code == 404
    asked = wang.post(f"{world.url}/mydata/ask/{draft_id}", data={"csrf_token": token})
    assert "已通知 林○麗" in asked.text

    notices = lin.get(f"{world.url}/my/cases").text
    assert "王○明 代您申請「長照服務申請」" in notices
    link = re.search(r'href="(/mydata/consent/[0-9a-f]{32})"', notices).group(1)
    page = lin.get(f"{world.url}{link}")
    assert "個人戶籍資料" in page.text and "王○明" in page.text
    assert wang.get(f"{world.url}{link}").status_code == 404  # only the principal consents
    token = CSRF.search(page.text).group(1)
    login_page = lin.post(f"{world.url}/mydata/start/{draft_id}", data={"csrf_token": token})
    action = re.search(r'action="([^"]+/login)"', login_page.text).group(1)
    consent_page = lin.post(f"{world.sandbox_url}{action}", data={"national_id": "R223456785"})
    action = re.search(r'action="([^"]+/consent)"', consent_page.text).group(1)
    back = lin.post(f"{world.sandbox_url}{action}", data={"decision": "agree"})
    assert back.ok
    world.sweep()
    done = lin.get(f"{world.url}/mydata/transfers/{world.transfer().tx_id}")
    assert done.url.endswith("/my/cases") and "代辦人的申請表已帶入" in done.text

    data, sources = _draft_data(world, draft_id)
    assert data["recipient"]["birth_date"] == "1948-09-05" and sources["recipient-birth_date"] == "API.7QovE2Gev6"
    assert "以下欄位由 MyData 帶入" in wang.get(f"{world.url}/drafts/{draft_id}").text
    with world.app.app_context(), reading(services.get().sessions) as s:
        tx = world.transfer()
        assert tx.user_id == tx.subject_id == principal and tx.draft_id == draft_id
