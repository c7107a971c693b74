"""From verified datasets to the fields a service needs, and into its form.

Each dataset's JSON keeps the provider's field names; ``extract`` turns them into
Onestop's, and ``prefill`` merges them into a draft, recording where each value
came from so the citizen (and the manual-entry KPI) can tell.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Mapping

from .datasets import COMPANY, DISABILITY, HOUSEHOLD, LOW_INCOME, VEHICLES, WHOLE_HOUSEHOLD

RELATIONS = {"戶長": "本人", "本人": "本人", "配偶": "配偶", "父": "父", "母": "母", "子": "子", "女": "女",
             "兄": "兄弟姊妹", "弟": "兄弟姊妹", "姊": "兄弟姊妹", "妹": "兄弟姊妹", "祖父": "祖父母",
             "祖母": "祖父母", "孫": "孫子女", "孫女": "孫子女"}

#: 車籍 car types as the permit form names them; others are kept as they are.
CAR_TYPES = {"大貨車": "大貨車", "聯結車": "聯結車", "曳引車": "曳引車", "大客車": "大客車",
             "營業大貨車": "大貨車", "自用大貨車": "大貨車", "半聯結車": "聯結車", "全聯結車": "聯結車"}


def _json_file(files: Mapping[str, bytes]) -> object:
    for name in sorted(files):
        if name.lower().endswith(".json"):
            return json.loads(files[name].decode("utf-8"))
    return {}


def _records(value: object, *keys: str) -> list[dict]:
    """The list of records in a dataset's JSON, wherever the provider put it."""
    if isinstance(value, list):
        return [v for v in value if isinstance(v, dict)]
    if isinstance(value, dict):
        for key in keys:
            if isinstance(value.get(key), list):
                return [v for v in value[key] if isinstance(v, dict)]
        return [value]
    return []


def _first(record: Mapping, *keys: str):
    for key in keys:
        if record.get(key) not in (None, ""):
            return record[key]
    return None


def vehicles(files: Mapping[str, bytes]) -> dict:
    rows = []
    for v in _records(_json_file(files), "vehicles", "data", "records", "items"):
        plate = _first(v, "plateNo", "plate_no", "plate")
        if not plate:
            continue
        rows.append({
            "plate": str(plate).upper(),
            "type": CAR_TYPES.get(str(_first(v, "carType", "car_type") or ""), _first(v, "carType")),
            "owner": _first(v, "ownerName", "owner_name"),
            "licence_expiry": _first(v, "licEffectDt", "lic_effect_dt"),
            "next_inspection": _first(v, "nextExamDt", "next_exam_dt"),
        })
    return {"vehicles": rows}


def company(files: Mapping[str, bytes]) -> dict:
    record = next(iter(_records(_json_file(files), "companies", "data", "records")), {})
    return {
        "company_id": _first(record, "company_id", "businessId", "ban", "統一編號"),
        "name": _first(record, "name", "company_name", "companyName"),
        "responsible_person": _first(record, "responsible_name", "responsible_person_name",
                                     "responsiblePerson", "responsible_person"),
        "address": _first(record, "address"),
    }


def household(files: Mapping[str, bytes]) -> dict:
    record = next(iter(_records(_json_file(files), "data", "records")), {})
    found = {key: _first(record, key, alt) for key, alt in (
        ("national_id", "id_no"), ("name", "姓名"), ("birth_date", "birthDate"),
        ("address", "registered_address"), ("district", "區"), ("village", "里"))}
    found["indigenous"] = bool(record.get("indigenous"))
    return found


WELFARE_TITLES = ("低收入戶", "中低收入戶")


def low_income_status(files: Mapping[str, bytes]) -> dict:
    """The household's 低收／中低收 status; ``一般戶`` when the record says there is none."""
    record = next(iter(_records(_json_file(files), "data", "records")), {})
    title = _first(record, "lic_title", "lowtypefam", "title")
    return {"welfare_status": title if title in WELFARE_TITLES else "一般戶",
            "valid_until": _first(record, "valid_until", "validDate")}


def disability(files: Mapping[str, bytes]) -> dict:
    record = next(iter(_records(_json_file(files), "data", "records")), {})
    category = _first(record, "category", "disability_category")
    return {"certificate": bool(category), "category": category,
            "level": _first(record, "level", "disability_level"),
            "valid_until": _first(record, "valid_until", "validDate")}


def whole_household(files: Mapping[str, bytes]) -> dict:
    record = _json_file(files)
    members = _records(record.get("members") if isinstance(record, dict) else record)
    return {"members": [{"name": m.get("name"), "relation": RELATIONS.get(m.get("relation"), "其他"),
                         "birth_date": m.get("birth_date")} for m in members if m.get("name")]}


EXTRACTORS: dict[str, Callable[[Mapping[str, bytes]], dict]] = {
    VEHICLES: vehicles,
    COMPANY: company,
    HOUSEHOLD: household,
    WHOLE_HOUSEHOLD: whole_household,
    LOW_INCOME: low_income_status,
    DISABILITY: disability,
}


def subject(files: Mapping[str, bytes]) -> dict | None:
    """Whose data this is: every dataset file names its data subject."""
    record = _json_file(files)
    if isinstance(record, dict) and record.get("national_id"):
        return {"national_id": str(record["national_id"]).upper(), "name": record.get("name")}
    return None


def extract(resource_id: str, files: Mapping[str, bytes]) -> dict:
    extractor = EXTRACTORS.get(resource_id)
    if extractor is None:
        return {"raw": _json_file(files)}
    return extractor(files)


def prefill_permit(data: dict, records: Mapping[str, dict]) -> tuple[dict, dict[str, str]]:
    """The permit application with MyData's company and vehicles filled in.

    Gross weight is not in 車籍, so vehicles keep any weight the applicant typed
    for the same plate and otherwise leave it for the applicant to declare.
    """
    data = json.loads(json.dumps(data))
    sources: dict[str, str] = {}
    firm = records.get(COMPANY)
    if firm and firm.get("company_id"):
        applicant = data.setdefault("applicant", {})
        applicant.update(kind="company", id_no=firm["company_id"])
        sources.update({"applicant-kind": COMPANY, "applicant-id_no": COMPANY})
        for key in ("name", "responsible_person"):
            if firm.get(key):
                applicant[key] = firm[key]
                sources[f"applicant-{key}"] = COMPANY
    cars = (records.get(VEHICLES) or {}).get("vehicles") or []
    if cars:
        typed = {v.get("plate"): v for v in data.get("vehicles") or [] if isinstance(v, dict)}
        rows = []
        for i, car in enumerate(cars):
            row = {"plate": car["plate"], "type": car.get("type"), "licence_expiry": car.get("licence_expiry")}
            weight = (typed.get(car["plate"]) or {}).get("gross_weight")
            if weight is not None:
                row["gross_weight"] = weight
            rows.append({k: v for k, v in row.items() if v is not None})
            for key in ("plate", "type", "licence_expiry"):
                if row.get(key) is not None:
                    sources[f"vehicles-{i}-{key}"] = VEHICLES
        data["vehicles"] = rows
    return data, sources


#: 戶籍 field for each person field of a form (the form says id_no, the record national_id).
HOUSEHOLD_FIELDS = {"name": "name", "id_no": "national_id", "birth_date": "birth_date",
                    "district": "district", "address": "address"}


def _from_household(data: dict, sources: dict[str, str], records: Mapping[str, dict], section: str,
                    fields: tuple[str, ...]) -> dict:
    """Copy the 戶籍 record's ``fields`` into ``data[section]``, noting the source; returns the record."""
    person = records.get(HOUSEHOLD) or {}
    target = data.setdefault(section, {})
    for form_key in fields:
        if person.get(HOUSEHOLD_FIELDS[form_key]):
            target[form_key] = person[HOUSEHOLD_FIELDS[form_key]]
            sources[f"{section}-{form_key}"] = HOUSEHOLD
    return person


def prefill_low_income(data: dict, records: Mapping[str, dict]) -> tuple[dict, dict[str, str]]:
    """The applicant and the household from 戶籍, so the district that reviews is the registered one."""
    data = json.loads(json.dumps(data))
    sources: dict[str, str] = {}
    _from_household(data, sources, records, "applicant", ("name", "id_no", "district", "address"))
    members = (records.get(WHOLE_HOUSEHOLD) or {}).get("members") or []
    if members:
        data["members"] = [{k: v for k, v in m.items() if v} for m in members]
        for i in range(len(members)):
            sources.update({f"members-{i}-name": WHOLE_HOUSEHOLD, f"members-{i}-relation": WHOLE_HOUSEHOLD})
    return data, sources


def prefill_long_term_care(data: dict, records: Mapping[str, dict]) -> tuple[dict, dict[str, str]]:
    """The care recipient from 戶籍, welfare status from 低收 records, the certificate from 身障."""
    data = json.loads(json.dumps(data))
    sources: dict[str, str] = {}
    person = _from_household(data, sources, records, "recipient",
                             ("name", "id_no", "birth_date", "district", "address"))
    if person:
        data["recipient"]["indigenous"] = bool(person.get("indigenous"))
        sources["recipient-indigenous"] = HOUSEHOLD
    welfare = records.get(LOW_INCOME)
    if welfare and welfare.get("welfare_status"):
        data["welfare_status"] = welfare["welfare_status"]
        sources["welfare_status"] = LOW_INCOME
    certificate = records.get(DISABILITY)
    if certificate is not None:
        found = {k: v for k, v in certificate.items() if k in ("certificate", "category", "level") and v is not None}
        data["disability"] = {**(data.get("disability") or {}), **found}
        sources.update({f"disability-{k}": DISABILITY for k in found})
    return data, sources


def case_facts(records: Mapping[str, dict]) -> dict:
    """What a case's diagram may rely on from verified records (e.g. the registered district)."""
    return {"household": records.get(HOUSEHOLD) or None}


PREFILL: dict[str, Callable[[dict, Mapping[str, dict]], tuple[dict, dict[str, str]]]] = {
    "large_vehicle_permit": prefill_permit,
    "low_income": prefill_low_income,
    "long_term_care": prefill_long_term_care,
}
