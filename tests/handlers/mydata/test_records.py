import io
import json
from datetime import date

import pytest
from pypdf import PdfReader

from handlers.mydata.sandbox import records
from handlers.mydata.sandbox.records import RESOURCES, generate, population

TODAY = date(2026, 5, 1)
TAINAN_DISTRICTS = {
    "新營區", "鹽水區", "白河區", "柳營區", "後壁區", "東山區", "麻豆區", "下營區", "六甲區", "官田區", "大內區",
    "佳里區", "學甲區", "西港區", "七股區", "將軍區", "北門區", "新化區", "善化區", "新市區", "安定區", "山上區",
    "玉井區", "楠西區", "南化區", "左鎮區", "仁德區", "歸仁區", "關廟區", "龍崎區", "永康區", "東區", "南區",
    "北區", "安南區", "安平區", "中西區",
}
LETTER_CODES = dict(zip("ABCDEFGHIJKLMNOPQRSTUVWXYZ", (10, 11, 12, 13, 14, 15, 16, 17, 34, 18, 19, 20, 21, 22, 35,
                                                       23, 24, 25, 26, 27, 28, 29, 32, 30, 31, 33)))
HOUSEHOLD, LOW_INCOME, DISABILITY, VEHICLES = "API.7QovE2Gev6", "API.AbAYGIjoYw", "API.nyhnLM1fve", "API.60GGfgGX1A"
KINSHIP, COMPANY = "API.Kr1C3b1ijJ", "API.ea0klQl5Wp"
MINIMUM_LIVING_COST = 16_000  # a month per person, roughly Tainan's line


def national_id_ok(value: str) -> bool:
    if len(value) != 10 or value[0] not in LETTER_CODES or not value[1:].isdigit() or value[1] not in "12":
        return False
    code = LETTER_CODES[value[0]]
    digits = [code // 10, code % 10] + [int(c) for c in value[1:]]
    return sum(d * w for d, w in zip(digits, (1, 9, 8, 7, 6, 5, 4, 3, 2, 1, 1))) % 10 == 0


def company_id_ok(value: str) -> bool:
    if len(value) != 8 or not value.isdigit():
        return False
    products = [int(d) * w for d, w in zip(value, (1, 2, 1, 2, 1, 2, 4, 1))]
    total = sum(sum(map(int, str(p))) for p in products)
    return total % 5 == 0 or (value[6] == "7" and (total + 1) % 5 == 0)


def age(born: date, on: date = TODAY) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def payload(pop: records.Population, resource_id: str, national_id: str):
    return json.loads(pop.files(resource_id, national_id)[f"{resource_id}.json"].decode("utf-8"))


@pytest.fixture(scope="module")
def pop() -> records.Population:
    return population(today=TODAY)


def test_checksum_helpers_know_good_and_bad_ids():
    assert national_id_ok("A123456789") and not national_id_ok("A123456788")
    assert company_id_ok("53212539") and company_id_ok("04595257") and not company_id_ok("53212538")


def test_the_same_seed_gives_the_same_population():
    assert generate(2026, TODAY) == generate(2026, TODAY)
    assert population(2026, TODAY) is population(2026, TODAY)
    assert generate(7, TODAY).people != generate(2026, TODAY).people


@pytest.mark.parametrize("seed", [2026, 1, 99, 12345])
def test_ids_pass_their_checksums_and_are_unique(seed):
    pop = generate(seed, TODAY)
    ids = [p.national_id for p in pop.people]
    assert all(national_id_ok(i) for i in ids) and len(set(ids)) == len(ids)
    assert all(p.national_id[1] == ("1" if p.sex == "M" else "2") for p in pop.people)
    company_ids = [c.company_id for c in pop.companies]
    assert all(company_id_ok(i) for i in company_ids) and len(set(company_ids)) == len(company_ids)
    assert len({p.name for p in pop.people}) == len(pop.people)
    plates = [v["plateNo"] for p in pop.people for v in p.vehicles] + [
        v["plateNo"] for c in pop.companies for v in c.vehicles]
    assert len(set(plates)) == len(plates)


def test_size_and_spread(pop):
    assert 35 <= len(pop.people) <= 45
    assert 12 <= len({p.household_id for p in pop.people}) <= 18
    districts = {p.district for p in pop.people}
    assert len(districts) >= 12 and districts <= TAINAN_DISTRICTS


def test_demo_accounts(pop):
    wang = pop.person("A123456789")
    assert (wang.name, wang.sex, wang.birth_date.year, wang.district, wang.welfare) == ("王小明", "M", 1985, "永康區", "一般")
    family = {p.relation for p in pop.household(wang.household_id)}
    assert "配偶" in family and family & {"子", "女"}
    assert [(v["plateNo"], v["carType"]) for v in wang.vehicles] == [("ABC-1234", "自用小客車")]

    chen = pop.person("B120863130")
    assert (chen.name, chen.sex, chen.birth_date.year, chen.district) == ("陳大文", "M", 1970, "永康區")
    firm = pop.company_of(chen)
    assert (firm.company_id, firm.name, firm.address) == ("53212539", "南瀛營造股份有限公司", "臺南市永康區中正路100號")
    assert (firm.responsible_person, firm.responsible_name, firm.status) == ("B120863130", "陳大文", "核准設立")
    assert [(v["plateNo"], v["carType"]) for v in firm.vehicles] == [("KLA-1234", "大貨車"), ("KLB-5678", "聯結車")]
    assert all(date.fromisoformat(v["licEffectDt"]) > TODAY for v in firm.vehicles)

    lin = pop.person("R223456785")
    assert (lin.name, lin.sex, lin.birth_date.year, lin.district, lin.welfare) == ("林美麗", "F", 1948, "東區", "低收入戶")
    assert lin.disability["level"] == "中度"


def test_elderly_alone_in_yujing_and_indigenous_56_in_nanhua(pop):
    alone = [p for p in pop.people if p.district == "玉井區" and age(p.birth_date) >= 65
             and len(pop.household(p.household_id)) == 1]
    assert alone
    assert any(p.indigenous and p.district == "南化區" and age(p.birth_date) == 56 for p in pop.people)
    assert 1 <= sum(p.indigenous for p in pop.people) <= 2


def test_ages_disability_and_dementia_age(pop):
    ages = [age(p.birth_date) for p in pop.people]
    assert sum(a >= 65 for a in ages) >= 5 and sum(a >= 50 for a in ages) >= 10
    assert all(p.age(TODAY) == age(p.birth_date) for p in pop.people)
    disabled = [p for p in pop.people if p.disability]
    assert 2 <= len(disabled) <= 6
    assert all(set(p.disability) == {"category", "level", "valid_until"} for p in disabled)
    assert all(date.fromisoformat(p.disability["valid_until"]) > TODAY for p in disabled)


def test_households_share_an_address_and_have_one_head(pop):
    for household_id in {p.household_id for p in pop.people}:
        members = pop.household(household_id)
        assert len({(p.address, p.district, p.village, p.welfare) for p in members}) == 1
        assert [p.relation for p in members].count("戶長") == 1
        head = members[0]
        assert head.relation == "戶長"
        assert head.address.startswith(f"臺南市{head.district}{head.village}")


def test_relatives_are_real_people_and_agree(pop):
    opposite = {"父": {"子", "女"}, "母": {"子", "女"}, "子": {"父", "母"}, "女": {"父", "母"}, "配偶": {"配偶"}}
    for person in pop.people:
        for term, relative in pop.relatives(person):
            assert pop.person(relative.national_id) is relative
            if term in opposite:
                back = {t for t, r in pop.relatives(relative) if r is person}
                assert back & opposite[term], (person.name, term, relative.name)
    yujing = next(p for p in pop.people if p.district == "玉井區")
    assert any(term == "子" and r.district != "玉井區" for term, r in pop.relatives(yujing))
    kin = payload(pop, KINSHIP, yujing.national_id)["relatives"]
    assert {k["relation"] for k in kin} >= {"子"} and all(pop.person(k["national_id"]) for k in kin)


def test_welfare_matches_household_income(pop):
    for household_id in {p.household_id for p in pop.people}:
        members = pop.household(household_id)
        monthly = sum(i["amount"] for p in members for i in p.incomes) / len(members) / 12
        welfare = members[0].welfare
        if welfare == "低收入戶":
            assert monthly < MINIMUM_LIVING_COST
        elif welfare == "中低收入戶":
            assert MINIMUM_LIVING_COST <= monthly < 1.5 * MINIMUM_LIVING_COST


def test_vehicles_of_the_company_owner(pop):
    data = payload(pop, VEHICLES, "B120863130")
    rows = {v["plateNo"]: v for v in data["vehicles"]}
    assert set(rows) == {"KLA-1234", "KLB-5678"}
    for row in rows.values():
        assert set(row) == {"plateNo", "carType", "ownerName", "licEffectDt", "nextExamDt"}
        assert row["ownerName"] == "南瀛營造股份有限公司"
        assert date.fromisoformat(row["licEffectDt"]) > TODAY and date.fromisoformat(row["nextExamDt"]) > TODAY
    assert (rows["KLA-1234"]["carType"], rows["KLB-5678"]["carType"]) == ("大貨車", "聯結車")


def test_company_registration(pop):
    firm = payload(pop, COMPANY, "B120863130")["companies"][0]
    assert (firm["company_id"], firm["name"], firm["responsible_name"]) == ("53212539", "南瀛營造股份有限公司", "陳大文")
    assert payload(pop, COMPANY, "A123456789") == {"national_id": "A123456789", "status": "無資料"}


def test_household_registration(pop):
    wang = pop.person("A123456789")
    data = payload(pop, HOUSEHOLD, wang.national_id)
    assert (data["name"], data["birth_date"], data["district"]) == ("王小明", "1985-06-12", "永康區")
    assert (data["village"], data["address"]) == (wang.village, wang.address)
    whole = payload(pop, "API.UDauDOLyZg", "A123456789")
    assert {m["relation"] for m in whole["members"]} >= {"戶長", "配偶"} and len(whole["members"]) == 3


def test_low_income_certificate_with_pdf(pop):
    files = pop.files(LOW_INCOME, "R223456785")
    assert set(files) == {f"{LOW_INCOME}.json", f"{LOW_INCOME}.pdf"}
    data = json.loads(files[f"{LOW_INCOME}.json"].decode("utf-8"))
    assert data["lic_title"] == "低收入戶"
    assert data["low_type"] and data["app_no"] and date.fromisoformat(data["chk_date"]) <= TODAY
    assert "R223456785" in {m["national_id"] for m in data["members"]}
    document = files[f"{LOW_INCOME}.pdf"]
    assert document.startswith(b"%PDF-1.4") and 200 < len(document) < 2000
    text = PdfReader(io.BytesIO(document), strict=True).pages[0].extract_text()
    assert data["app_no"] in text


def test_disability_certificate_with_pdf(pop):
    files = pop.files(DISABILITY, "R223456785")
    assert json.loads(files[f"{DISABILITY}.json"])["level"] == "中度"
    text = PdfReader(io.BytesIO(files[f"{DISABILITY}.pdf"]), strict=True).pages[0].extract_text()
    assert "moderate" in text


def test_every_dataset_for_every_person(pop):
    assert len(RESOURCES) == 10 and set(RESOURCES) == set(records.PROVIDERS)
    for person in pop.people:
        for resource_id in RESOURCES:
            files = pop.files(resource_id, person.national_id)
            data = json.loads(files[f"{resource_id}.json"].decode("utf-8"))
            assert data["national_id"] == person.national_id
            if data.get("status") == "無資料":
                assert data == {"national_id": person.national_id, "status": "無資料"} and len(files) == 1
    assert payload(pop, LOW_INCOME, "A123456789")["status"] == "無資料"
    assert payload(pop, DISABILITY, "A123456789")["status"] == "無資料"


def test_unknown_resource_or_person_is_a_key_error(pop):
    with pytest.raises(KeyError):
        pop.files("API.unknown000", "A123456789")
    with pytest.raises(KeyError):
        pop.files(HOUSEHOLD, "Z999999999")
    assert pop.person("Z999999999") is None
