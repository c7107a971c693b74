"""Schema-driven forms: parsing HTML submissions, validation messages, rendering."""

from __future__ import annotations

import copy
import json
from html.parser import HTMLParser
from pathlib import Path

import pytest
from jinja2 import Environment, FileSystemLoader
from werkzeug.datastructures import MultiDict

from engine.forms import (
    Form,
    FormNotFound,
    FormRegistry,
    UploadInfo,
    check_form_definition,
    is_tw_business_id,
    is_tw_national_id,
)

ROOT = Path(__file__).resolve().parents[2]
FORMS = ROOT / "forms"
TEMPLATES = ROOT / "webapp" / "templates"
FORM_KEYS = ["lvp_application", "lvp_cosign", "lvp_decision", "lvp_intake"]

VALID_FIELDS = [
    ("applicant-kind", "company"),
    ("applicant-id_no", "04595257"),
    ("applicant-name", "府城營造股份有限公司"),
    ("applicant-responsible_person", "王大明"),
    ("applicant-contact_name", "陳小華"),
    ("applicant-phone", "06-2991111"),
    ("applicant-email", "service@fucheng.com.tw"),
    ("purpose-category", "construction"),
    ("purpose-project_name", "安平路人行道改善工程"),
    ("purpose-site_address", "臺南市安平區安平路 100 號"),
    ("vehicles-0-plate", "kla-1234"),
    ("vehicles-0-type", "大貨車"),
    ("vehicles-0-gross_weight", "35"),
    ("vehicles-0-licence_expiry", "2027-01-31"),
    ("route_segments-0-from", "安平港"),
    ("route_segments-0-to", "安平路工地"),
    ("route_segments-0-roads", "新港路、安平路"),
    ("route_segments-0-districts", "安平區"),
    ("route_segments-0-districts", "中西區"),
    ("period-start_date", "2026-12-01"),
    ("period-end_date", "2026-12-31"),
    ("time_windows-0-start", "22:00"),
    ("time_windows-0-end", "23:59"),
    ("attachments-route_map__document", "doc-7f3a"),
    ("attachments-route_map__filename", "路線圖.pdf"),
]

EXPECTED = {
    "applicant": {
        "kind": "company",
        "id_no": "04595257",
        "name": "府城營造股份有限公司",
        "responsible_person": "王大明",
        "contact_name": "陳小華",
        "phone": "06-2991111",
        "email": "service@fucheng.com.tw",
    },
    "purpose": {
        "category": "construction",
        "project_name": "安平路人行道改善工程",
        "site_address": "臺南市安平區安平路 100 號",
    },
    "vehicles": [{"plate": "KLA-1234", "type": "大貨車", "gross_weight": 35.0, "licence_expiry": "2027-01-31"}],
    "route_segments": [
        {"from": "安平港", "to": "安平路工地", "roads": "新港路、安平路", "districts": ["安平區", "中西區"]},
    ],
    "period": {"start_date": "2026-12-01", "end_date": "2026-12-31"},
    "time_windows": [{"start": "22:00", "end": "23:59"}],
    "attachments": {
        "contract": {
            "filename": "合約.pdf",
            "content_type": "application/pdf",
            "size": 245_760,
            "document_id": None,
            "upload": "attachments-contract",
        },
        "route_map": {
            "filename": "路線圖.pdf",
            "content_type": None,
            "size": None,
            "document_id": "doc-7f3a",
            "upload": None,
        },
    },
}


@pytest.fixture(scope="module")
def registry() -> FormRegistry:
    return FormRegistry(FORMS)


@pytest.fixture(scope="module")
def application(registry: FormRegistry) -> Form:
    return registry.get("lvp_application")


@pytest.fixture(scope="module")
def env() -> Environment:
    return Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True)


def contract_upload(**overrides) -> dict[str, UploadInfo]:
    info = {"filename": "合約.pdf", "content_type": "application/pdf", "size": 245_760, **overrides}
    return {"attachments-contract": UploadInfo(**info)}


def submit(*, replace: dict[str, str] | None = None, drop: tuple[str, ...] = (), add=()) -> MultiDict:
    """The valid submission with some fields replaced, dropped or added."""
    replace = replace or {}
    fields = [(k, replace.get(k, v)) for k, v in VALID_FIELDS if k not in drop]
    fields += [(k, v) for k, v in replace.items() if k not in dict(VALID_FIELDS)]
    return MultiDict(fields + list(add))


def errors_for(form: Form, formdata: MultiDict, files=None, locale: str = "zh_TW") -> dict[str, list[str]]:
    return form.validate(form.parse(formdata, contract_upload() if files is None else files), locale)


# -- parsing ---------------------------------------------------------------

def test_complete_application_parses_into_contract_and_is_valid(application: Form):
    data = application.parse(submit(), contract_upload())
    assert data == EXPECTED
    assert application.validate(data) == {}


def test_unknown_and_hidden_names_are_ignored(application: Form):
    extra = [("is_admin", "1"), ("applicant-approved", "true"), ("csrf_token", "x")]
    data = application.parse(submit(add=extra), contract_upload())
    assert data == EXPECTED


def test_hidden_and_read_only_properties_are_not_taken_from_the_browser():
    schema = {
        "type": "object",
        "properties": {
            "case_no": {"type": "string", "title": "案號"},
            "fee": {"type": "integer", "title": "規費", "readOnly": True},
            "note": {"type": "string", "title": "備註"},
        },
    }
    form = Form("t", "測試", "Test", schema, {"case_no": {"ui:widget": "hidden"}})
    assert form.parse(MultiDict({"case_no": "X-1", "fee": "0", "note": " 好 "})) == {"note": "好"}


def test_rows_with_gaps_are_renumbered_in_index_order(application: Form):
    formdata = submit(add=[
        ("vehicles-7-plate", "KLC-9012"), ("vehicles-7-type", "曳引車"),
        ("vehicles-7-gross_weight", "-1"), ("vehicles-7-licence_expiry", "2027-03-01"),
        ("vehicles-3-plate", "KLB-5678"), ("vehicles-3-type", "聯結車"),
        ("vehicles-3-gross_weight", "42.5"), ("vehicles-3-licence_expiry", "2027-02-01"),
    ])
    data = application.parse(formdata, contract_upload())
    assert [v["plate"] for v in data["vehicles"]] == ["KLA-1234", "KLB-5678", "KLC-9012"]
    assert data["vehicles"][1]["gross_weight"] == 42.5
    assert application.validate(data) == {"vehicles-2-gross_weight": ["必須大於 0"]}


def test_form_data_that_only_supports_getlist_and_in(application: Form):
    class Minimal:
        def __init__(self, pairs):
            self._data = MultiDict(pairs)

        def getlist(self, name):
            return self._data.getlist(name)

        def __contains__(self, name):
            return name in self._data

    pairs = [*VALID_FIELDS, ("vehicles-2-plate", "KLB-5678")]
    data = application.parse(Minimal(pairs), contract_upload())
    assert [v.get("plate") for v in data["vehicles"]] == ["KLA-1234", "KLB-5678"]


def test_unparseable_number_is_kept_for_the_type_message(application: Form):
    data = application.parse(submit(replace={"vehicles-0-gross_weight": "三十五"}), contract_upload())
    assert data["vehicles"][0]["gross_weight"] == "三十五"
    assert application.validate(data) == {"vehicles-0-gross_weight": ["請輸入數字"]}


def test_full_width_digits_are_numbers(application: Form):
    data = application.parse(submit(replace={"vehicles-0-gross_weight": "１２.５"}), contract_upload())
    assert data["vehicles"][0]["gross_weight"] == 12.5


def test_stored_attachment_without_new_upload_keeps_document(application: Form):
    data = application.parse(submit(), {})
    assert "contract" not in data["attachments"]
    assert data["attachments"]["route_map"]["document_id"] == "doc-7f3a"
    assert application.validate(data) == {"attachments-contract": ["此欄位為必填"]}


def test_new_upload_replaces_stored_document(application: Form):
    stored = [("attachments-contract__document", "doc-old"), ("attachments-contract__filename", "old.pdf")]
    formdata = submit(add=stored)
    contract = application.parse(formdata, contract_upload())["attachments"]["contract"]
    assert contract["upload"] == "attachments-contract"
    assert contract["document_id"] is None


def test_attachments_lists_descriptors_by_field_name(application: Form):
    data = application.parse(submit(), contract_upload())
    assert [name for name, _ in application.attachments(data)] == ["attachments-contract", "attachments-route_map"]


# -- validation ------------------------------------------------------------

def test_missing_fields_are_required_on_their_own_names(application: Form):
    errors = errors_for(application, submit(drop=("applicant-name", "purpose-site_address", "vehicles-0-plate")))
    assert errors == {
        "applicant-name": ["此欄位為必填"],
        "purpose-site_address": ["此欄位為必填"],
        "vehicles-0-plate": ["此欄位為必填"],
    }


def test_empty_submission(application: Form):
    errors = errors_for(application, MultiDict(), files={})
    assert errors["applicant-kind"] == ["此欄位為必填"]
    assert errors["period-end_date"] == ["此欄位為必填"]
    assert errors["attachments-route_map"] == ["此欄位為必填"]
    assert errors["vehicles"] == ["至少需要 1 筆"]
    assert errors["time_windows"] == ["至少需要 1 筆"]
    assert "applicant-responsible_person" not in errors


@pytest.mark.parametrize(
    ("weight", "message"),
    [("-5", "必須大於 0"), ("0", "必須大於 0"), ("100.5", "不可大於 100"), ("abc", "請輸入數字")],
)
def test_gross_weight_bounds(application: Form, weight: str, message: str):
    errors = errors_for(application, submit(replace={"vehicles-0-gross_weight": weight}))
    assert errors == {"vehicles-0-gross_weight": [message]}


def test_plate_pattern_uses_custom_message(application: Form):
    errors = errors_for(application, submit(replace={"vehicles-0-plate": "KLA1234"}))
    assert errors == {"vehicles-0-plate": ["車牌格式不正確，例如 KLA-1234"]}


def test_phone_pattern_uses_custom_message(application: Form):
    errors = errors_for(application, submit(replace={"applicant-phone": "2991111"}))
    assert errors == {"applicant-phone": ["電話格式不正確，例如 06-2991111 或 0912345678"]}


def test_end_date_before_start_date(application: Form):
    errors = errors_for(application, submit(replace={"period-end_date": "2026-11-30"}))
    assert errors == {"period-end_date": ["「通行迄日」不可早於「通行起日」"]}


def test_same_day_period_is_allowed(application: Form):
    assert errors_for(application, submit(replace={"period-end_date": "2026-12-01"})) == {}


def test_time_window_end_before_start(application: Form):
    errors = errors_for(application, submit(replace={"time_windows-0-end": "06:00"}))
    assert errors == {"time_windows-0-end": ["「迄」不可早於「起」"]}


def test_malformed_date_and_time(application: Form):
    bad = {"period-start_date": "2026-02-30", "time_windows-0-start": "25:00"}
    errors = errors_for(application, submit(replace=bad))
    assert errors == {
        "period-start_date": ["日期格式不正確（YYYY-MM-DD）"],
        "time_windows-0-start": ["時間格式不正確（HH:MM）"],
    }


def test_unknown_district(application: Form):
    errors = errors_for(application, submit(add=[("route_segments-0-districts", "信義區")]))
    assert errors == {"route_segments-0-districts": ["請從選項中選擇"]}


def test_duplicate_and_missing_districts(application: Form):
    duplicate = errors_for(application, submit(add=[("route_segments-0-districts", "安平區")]))
    assert duplicate == {"route_segments-0-districts": ["不可重複"]}
    none = errors_for(application, submit(drop=("route_segments-0-districts",)))
    assert none == {"route_segments-0-districts": ["請至少選擇 1 個行政區"]}


def test_attachment_of_wrong_type(application: Form):
    errors = errors_for(application, submit(), contract_upload(filename="合約.docx", content_type="application/msword"))
    assert errors == {"attachments-contract": ["檔案類型不支援，請上傳 PDF、PNG 或 JPEG"]}


def test_attachment_too_big(application: Form):
    errors = errors_for(application, submit(), contract_upload(size=10 * 1024 * 1024 + 1))
    assert errors == {"attachments-contract": ["檔案過大（上限 10 MB）"]}


def test_bad_business_id(application: Form):
    errors = errors_for(application, submit(replace={"applicant-id_no": "04595258"}))
    assert errors == {"applicant-id_no": ["統一編號不正確"]}


def test_person_needs_valid_national_id(application: Form):
    person = {"applicant-kind": "person", "applicant-name": "林美玲"}
    drop = ("applicant-responsible_person",)
    assert errors_for(application, submit(replace={**person, "applicant-id_no": "a123456789"}, drop=drop)) == {}
    errors = errors_for(application, submit(replace={**person, "applicant-id_no": "A123456788"}, drop=drop))
    assert errors == {"applicant-id_no": ["身分證字號不正確"]}


def test_company_needs_responsible_person(application: Form):
    errors = errors_for(application, submit(drop=("applicant-responsible_person",)))
    assert errors == {"applicant-responsible_person": ["此欄位為必填"]}


def test_other_purpose_needs_description(application: Form):
    errors = errors_for(application, submit(replace={"purpose-category": "other"}))
    assert errors == {"purpose-other_description": ["此欄位為必填"]}


@pytest.mark.parametrize("value", ["A123456789", "F131104093", "B234567894"])
def test_national_id_checksum_accepts(value: str):
    assert is_tw_national_id(value)


@pytest.mark.parametrize("value", ["A123456788", "A323456789", "a123456789", "A12345678", "1123456789"])
def test_national_id_checksum_rejects(value: str):
    assert not is_tw_national_id(value)


@pytest.mark.parametrize(("value", "valid"), [
    ("04595257", True),
    ("22099131", True),
    ("10458575", True),  # 7th digit 7: the sum counts 28 as 10
    ("10458574", True),  # ... or as 1
    ("10458573", False),
    ("04595258", False),
    ("0459525", False),
    ("0459525A", False),
])
def test_business_id_checksum(value: str, valid: bool):
    assert is_tw_business_id(value) is valid


def test_intake_correction_needs_note(registry: FormRegistry):
    intake = registry.get("lvp_intake")
    assert intake.validate(intake.parse(MultiDict({"decision": "correction"}))) == {"correction_note": ["此欄位為必填"]}
    assert intake.validate(intake.parse(MultiDict({"decision": "reject"}))) == {"reason": ["此欄位為必填"]}
    assert intake.validate(intake.parse(MultiDict({"decision": "cosign"}))) == {}
    assert intake.validate(intake.parse(MultiDict({"decision": "approve"}))) == {"decision": ["請從選項中選擇"]}


def test_cosign_objection_needs_comment(registry: FormRegistry):
    cosign = registry.get("lvp_cosign")
    blank = cosign.parse(MultiDict({"opinion": "object", "comment": "  "}))
    assert cosign.validate(blank) == {"comment": ["此欄位為必填"]}
    assert cosign.validate(cosign.parse(MultiDict({"opinion": "agree"}))) == {}
    errors = cosign.validate({"opinion": "object", "comment": "字" * 1001})
    assert errors == {"comment": ["最多 1000 個字"]}


def test_decision_defaults_and_rejection_reason(registry: FormRegistry):
    decision = registry.get("lvp_decision")
    assert decision.defaults()["conditions"].startswith("應依核准路線、日期及時段行駛。\n")
    assert decision.validate(decision.parse(MultiDict({"decision": "reject"}))) == {"reason": ["此欄位為必填"]}
    assert decision.validate(decision.parse(MultiDict({"decision": "approve"}))) == {}


def test_english_messages(application: Form):
    formdata = submit(
        replace={"vehicles-0-gross_weight": "-1", "period-end_date": "2026-11-01", "applicant-id_no": "12345678"},
        drop=("applicant-name",),
    )
    errors = errors_for(application, formdata, contract_upload(size=20_000_000), locale="en")
    assert errors == {
        "applicant-name": ["This field is required"],
        "applicant-id_no": ["Invalid business ID number"],
        "vehicles-0-gross_weight": ["Must be greater than 0"],
        "period-end_date": ["“End date” must not be earlier than “Start date”"],
        "attachments-contract": ["File too large (limit 10 MB)"],
    }
    plate = errors_for(application, submit(replace={"vehicles-0-plate": "x"}), locale="en")
    assert plate == {"vehicles-0-plate": ["Invalid plate number, e.g. KLA-1234"]}


def test_messages_are_not_repeated(application: Form):
    data = application.parse(submit(), contract_upload())
    data["route_segments"][0]["districts"] = ["火星區", "月球區"]
    assert application.validate(data) == {"route_segments-0-districts": ["請從選項中選擇"]}


# -- definitions and registry --------------------------------------------

def test_shipped_forms_are_sound(registry: FormRegistry):
    assert set(FORM_KEYS) <= set(registry.keys())
    for key in registry.keys():
        raw = json.loads((FORMS / f"{key}.json").read_text(encoding="utf-8"))
        assert check_form_definition(raw) == [], key


def test_check_form_definition_finds_problems():
    raw = json.loads((FORMS / "lvp_cosign.json").read_text(encoding="utf-8"))
    broken = copy.deepcopy(raw)
    broken["schema"]["properties"]["opinion"]["type"] = "strng"
    assert any("not a valid JSON Schema" in p for p in check_form_definition(broken))

    stray = copy.deepcopy(raw)
    stray["ui"]["remark"] = {"ui:widget": "textarea"}
    stray["ui"]["comment"]["ui:widgit"] = "textarea"
    stray["schema"]["properties"]["comment"]["x-after"] = "nothing"
    problems = check_form_definition(stray)
    assert any("unknown property 'remark'" in p for p in problems)
    assert any("ui:widgit" in p for p in problems)
    assert any("x-after" in p for p in problems)


def test_registry_lookup(registry: FormRegistry):
    assert registry.get("lvp_intake") is registry.get("lvp_intake")
    for key in ("missing_form", "../forms/lvp_intake", ""):
        with pytest.raises(FormNotFound):
            registry.get(key)


def test_fields_follow_ui_order(application: Form):
    purpose = next(f for f in application.fields() if f.key == "purpose")
    assert [c.key for c in purpose.children] == ["category", "other_description", "project_name", "site_address"]
    kind = purpose.children[0]
    assert kind.widget == "radio"
    assert [o.label("zh_TW") for o in kind.options] == ["興修房屋或其他工程施工", "貨物運送", "其他"]
    assert kind.label("en") == "Category"


# -- rendering -------------------------------------------------------------

class Page(HTMLParser):
    """Controls by name (with the classes of their enclosing .field) and paragraph text by id."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.controls: dict[str, dict] = {}
        self.text: dict[str, str] = {}
        self._divs: list[str] = []
        self._capture: str | None = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "div":
            self._divs.append(attrs.get("class") or "")
        if tag in {"input", "select", "textarea"} and "name" in attrs:
            field_class = next((c for c in reversed(self._divs) if c.split()[:1] == ["field"]), "")
            self.controls.setdefault(attrs["name"], {**attrs, "_field": field_class})
        if tag == "p" and "id" in attrs:
            self._capture = attrs["id"]
            self.text[self._capture] = ""

    def handle_endtag(self, tag):
        if tag == "div" and self._divs:
            self._divs.pop()
        if tag == "p":
            self._capture = None

    def handle_data(self, data):
        if self._capture:
            self.text[self._capture] += data

    def messages_for(self, name: str) -> str:
        control = self.controls[name]
        ids = (control.get("aria-describedby") or "").split()
        return " ".join(self.text.get(i, "") for i in ids if i.endswith("__error"))


def render(env: Environment, call: str, **context) -> str:
    source = '{% from "macros/schema_form.html" import schema_fields, schema_view %}' + call
    return env.from_string(source).render(**context)


def test_schema_fields_shows_errors_next_to_inputs_and_keeps_values(env: Environment, application: Form):
    formdata = submit(replace={
        "vehicles-0-gross_weight": "-5",
        "period-end_date": "2026-11-01",
        "vehicles-0-plate": 'KLA-1234"><script>',
    })
    data = application.parse(formdata, contract_upload())
    errors = application.validate(data)
    html = render(env, "{{ schema_fields(form, data, errors) }}", form=application, data=data, errors=errors)
    page = Page(html)

    weight = page.controls["vehicles-0-gross_weight"]
    assert weight["value"] == "-5"
    assert weight["aria-invalid"] == "true"
    assert "field--error" in weight["_field"]
    assert page.messages_for("vehicles-0-gross_weight") == "必須大於 0"
    assert page.messages_for("period-end_date") == "「通行迄日」不可早於「通行起日」"
    assert page.messages_for("vehicles-0-plate") == "車牌格式不正確，例如 KLA-1234"

    assert page.controls["vehicles-0-plate"]["value"] == 'KLA-1234"><SCRIPT>'
    assert "<SCRIPT>" not in html
    assert page.controls["applicant-name"]["value"] == "府城營造股份有限公司"
    assert page.controls["applicant-name"]["aria-invalid"] == "false"
    assert "field--error" not in page.controls["applicant-name"]["_field"]
    assert 'value="安平區" checked' in html
    assert page.controls["attachments-route_map__document"]["value"] == "doc-7f3a"
    assert "已上傳：路線圖.pdf，重新選擇檔案可取代" in html
    assert 'name="vehicles-__INDEX__-plate"' in html
    assert '<button type="button" class="btn btn--link" data-repeat-remove>移除</button>' in html
    assert '<button type="button" class="btn btn--secondary" data-repeat-add>新增一筆</button>' in html
    assert "<form" not in html


def test_schema_fields_in_english_with_array_error(env: Environment, application: Form):
    data = application.parse(MultiDict(), {})
    errors = application.validate(data, "en")
    html = render(env, "{{ schema_fields(form, data, errors, 'en') }}", form=application, data=data, errors=errors)
    page = Page(html)
    assert "Plate number" in html and "車牌號碼" not in html
    assert page.text["f-vehicles__error"] == "At least 1 required"
    assert "vehicles-0-plate" in page.controls
    assert ">Add another</button>" in html


def test_schema_fields_renders_defaults_and_radio_choice(env: Environment, registry: FormRegistry):
    decision = registry.get("lvp_decision")
    data = {**decision.defaults(), "decision": "approve"}
    html = render(env, "{{ schema_fields(form, data, {}) }}", form=decision, data=data)
    assert 'value="approve" checked' in html
    assert "遇交通管制或道路施工時" in html
    assert 'class="radio-group"' in html


def test_schema_view_shows_labels_not_codes(env: Environment, registry: FormRegistry, application: Form):
    intake = registry.get("lvp_intake")
    data = {"decision": "correction", "correction_note": "請補附行照影本\n及路線圖"}
    html = render(env, "{{ schema_view(form, data) }}", form=intake, data=data)
    assert "通知補正" in html
    assert ">correction<" not in html
    assert "請補附行照影本<br>及路線圖" in html

    data = application.parse(submit(), contract_upload())
    view = render(
        env,
        "{{ schema_view(form, data, 'zh_TW', url) }}",
        form=application,
        data=data,
        url=lambda d: f"/documents/{d['document_id']}" if d.get("document_id") else None,
    )
    assert "公司行號" in view and ">company<" not in view
    assert "興修房屋或其他工程施工" in view
    assert "安平區、中西區" in view
    assert '<a href="/documents/doc-7f3a">路線圖.pdf</a>' in view
    assert "<td>35</td>" in view
    assert 'class="readonly-view"' in view

    english = render(env, "{{ schema_view(form, data, 'en') }}", form=application, data=data)
    assert "Company" in english and "Anping Dist., West Central Dist." in english


# -- derived fields and JSON-valued widgets ----------------------------------

ROUTE = {"type": "LineString", "coordinates": [[120.2571, 23.0263], [120.235, 22.98]]}


def fake_districts(path):
    """Stands in for the city's geometry: a route's districts are named by its first point."""
    from engine.forms import DerivationError

    if path.get("coordinates", [[0]])[0][0] > 121:
        raise DerivationError("路線不在臺南市範圍內", "The route goes outside Tainan City")
    return ["永康區", "東區"]


@pytest.fixture(scope="module")
def routed() -> Form:
    return FormRegistry(FORMS, derivations={"districts_crossed": fake_districts}).get("lvp_application")


def drawn(path, districts=()) -> MultiDict:
    fields = [(k, v) for k, v in VALID_FIELDS if k != "route_segments-0-districts"]
    fields += [("route_segments-0-path", path if isinstance(path, str) else json.dumps(path))]
    return MultiDict(fields + [("route_segments-0-districts", d) for d in districts])


def test_a_drawn_path_is_parsed_from_json_and_the_districts_are_computed_from_it(routed: Form):
    data = routed.parse(drawn(ROUTE, districts=["新市區"]), contract_upload())
    assert data["route_segments"][0]["path"] == ROUTE
    assert data["route_segments"][0]["districts"] == ["永康區", "東區"]
    assert routed.validate(data) == {}


def test_without_a_path_the_districts_picked_by_hand_stay(routed: Form):
    data = routed.parse(submit(add=[("route_segments-0-path", "  ")]), contract_upload())
    assert data == EXPECTED
    assert routed.validate(data) == {}
    assert routed.derive({**EXPECTED, "route_segments": [{**EXPECTED["route_segments"][0], "path": None}]}) \
        ["route_segments"][0]["districts"] == ["安平區", "中西區"]


def test_a_failed_derivation_is_an_error_on_the_source_field_in_the_locale(routed: Form):
    outside = {"type": "LineString", "coordinates": [[121.5, 25.0], [121.6, 25.1]]}
    data = routed.parse(drawn(outside, districts=["安平區"]), contract_upload())
    assert data["route_segments"][0]["districts"] == ["安平區"]
    assert routed.validate(data) == {"route_segments-0-path": ["路線不在臺南市範圍內"]}
    assert routed.validate(data, "en") == {"route_segments-0-path": ["The route goes outside Tainan City"]}


def test_text_that_is_not_json_is_kept_for_the_type_message(routed: Form):
    data = routed.parse(drawn("{broken", districts=["安平區"]), contract_upload())
    assert data["route_segments"][0]["path"] == "{broken"
    assert routed.validate(data) == {"route_segments-0-path": ["資料格式不正確"]}


def test_json_input_with_districts_that_contradict_the_path_is_refused_until_derived(routed: Form):
    segment = {**EXPECTED["route_segments"][0], "path": ROUTE}
    data = {**EXPECTED, "route_segments": [segment]}
    assert routed.validate(data) == {
        "route_segments-0-districts": ["「行經行政區」須依「地圖路線」計算，與填寫的內容不符"]}
    derived = routed.derive(data)
    assert derived["route_segments"][0]["districts"] == ["永康區", "東區"]
    assert segment["districts"] == ["安平區", "中西區"], "derive works on a copy"
    assert routed.validate(derived) == {}


def test_a_derivation_the_registry_was_not_given_refuses_the_value(application: Form):
    data = application.parse(drawn(ROUTE, districts=["安平區"]), contract_upload())
    assert data["route_segments"][0]["districts"] == ["安平區"]
    assert application.validate(data) == {"route_segments-0-path": ["目前無法處理此欄位，請稍後再試"]}


def test_forms_edited_in_the_studio_compute_derived_fields_too():
    from engine.forms import FormOverlay

    registry = FormRegistry(FORMS, derivations={"districts_crossed": fake_districts})
    raw = json.loads((FORMS / "lvp_application.json").read_text(encoding="utf-8"))
    raw["title"] = "大型車輛通行證申請（修訂）"
    edited = FormOverlay(registry, {"lvp_application": raw}).get("lvp_application")
    assert edited.title == "大型車輛通行證申請（修訂）"
    assert edited.parse(drawn(ROUTE), contract_upload())["route_segments"][0]["districts"] == ["永康區", "東區"]
    choices = edited.with_choices("purpose", [])
    assert choices.derivations is registry.derivations


def test_check_form_definition_knows_derived_fields_and_the_route_map_widget():
    raw = json.loads((FORMS / "lvp_application.json").read_text(encoding="utf-8"))
    assert check_form_definition(raw) == []
    items = raw["schema"]["properties"]["route_segments"]["items"]["properties"]
    items_ui = raw["ui"]["route_segments"]["items"]

    wrong_source = copy.deepcopy(raw)
    wrong_source["schema"]["properties"]["route_segments"]["items"]["properties"]["districts"]["x-derived"] = {
        "from": "route", "by": "districts_crossed"}
    assert any("x-derived.from must name a sibling" in p for p in check_form_definition(wrong_source))

    extra_key = copy.deepcopy(raw)
    extra_key["schema"]["properties"]["route_segments"]["items"]["properties"]["districts"]["x-derived"] = {
        "from": "path", "by": "districts_crossed", "when": "always"}
    assert any("exactly 'from' and 'by'" in p for p in check_form_definition(extra_key))

    map_on_text = copy.deepcopy(raw)
    map_on_text["ui"]["route_segments"]["items"]["roads"]["ui:widget"] = "route-map"
    assert any("'route-map' goes with an object type" in p for p in check_form_definition(map_on_text))
    assert items["path"]["type"] == ["object", "null"] and items_ui["path"]["ui:widget"] == "route-map"


def test_route_map_widget_renders_the_path_and_links_the_derived_districts(env: Environment, routed: Form):
    data = routed.parse(drawn(ROUTE), contract_upload())
    html = render(env, "{{ schema_fields(form, data, {}) }}", form=routed, data=data)
    page = Page(html)
    assert json.loads(page.controls["route_segments-0-path"]["value"]) == ROUTE
    assert page.controls["route_segments-0-path"]["type"] == "hidden"
    assert 'data-derived-from="route_segments-0-path"' in html
    assert 'data-derived-from="route_segments-__INDEX__-path"' in html
    assert "在地圖中心加入一點" in html and "復原上一點" in html and "清除路線" in html
    assert '<script src="/static/js/route-map.js" defer></script>' in html

    english = render(env, "{{ schema_fields(form, data, {}, 'en') }}", form=routed, data=data)
    assert "Undo last point" in english and "復原上一點" not in english


def test_route_map_view_summarises_the_route_in_text(env: Environment, routed: Form):
    data = routed.parse(drawn(ROUTE), contract_upload())
    view = render(env, "{{ schema_view(form, data) }}", form=routed, data=data)
    assert "路線共 2 個點，起點東經 120.2571、北緯 23.0263，終點東經 120.235、北緯 22.98" in view
    assert "data-route-view" in view and "永康區、東區" in view
    manual = render(env, "{{ schema_view(form, data) }}", form=routed, data=EXPECTED)
    assert "data-route-view" not in manual
