"""Demo data: Tainan's agencies, demo accounts, and the services that ship as diagrams."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path

from sqlalchemy import select

from engine import audit
from engine.cases import CaseEngine
from engine.db import transaction, utcnow
from engine.calendar import TAIPEI
from engine.models import Agency, AssessmentSlot, Service, User
from handlers import referrals

from .assistant import catalog as service_catalog
from .auth import hash_password, token_hash

DEMO_PASSWORD = "onestop-demo"
BIRTH_DATES = {"A123456789": "1985-06-12", "R223456785": "1948-09-05", "B120863130": "1970-03-21"}

POLICE_SUB_BUREAUS = {
    "TNPD-1": ("第一分局", ["東區"]),
    "TNPD-2": ("第二分局", ["中西區"]),
    "TNPD-3": ("第三分局", ["安南區"]),
    "TNPD-4": ("第四分局", ["安平區"]),
    "TNPD-5": ("第五分局", ["北區"]),
    "TNPD-6": ("第六分局", ["南區"]),
    "TNPD-YK": ("永康分局", ["永康區"]),
    "TNPD-GR": ("歸仁分局", ["歸仁區", "仁德區", "關廟區", "龍崎區"]),
    "TNPD-XH": ("新化分局", ["新化區", "山上區", "左鎮區"]),
    "TNPD-SH": ("善化分局", ["善化區", "新市區", "安定區", "大內區"]),
    "TNPD-JL": ("佳里分局", ["佳里區", "西港區", "七股區"]),
    "TNPD-XJ": ("學甲分局", ["學甲區", "將軍區", "北門區"]),
    "TNPD-MD": ("麻豆分局", ["麻豆區", "下營區", "六甲區", "官田區"]),
    "TNPD-XY": ("新營分局", ["新營區", "鹽水區", "柳營區"]),
    "TNPD-BH": ("白河分局", ["白河區", "東山區", "後壁區"]),
    "TNPD-YJ": ("玉井分局", ["玉井區", "楠西區", "南化區"]),
}

TAINAN_DISTRICTS = [
    "新營區", "鹽水區", "白河區", "柳營區", "後壁區", "東山區", "麻豆區", "下營區", "六甲區", "官田區",
    "大內區", "佳里區", "學甲區", "西港區", "七股區", "將軍區", "北門區", "新化區", "善化區", "新市區",
    "安定區", "山上區", "玉井區", "楠西區", "南化區", "左鎮區", "仁德區", "歸仁區", "關廟區", "龍崎區",
    "永康區", "東區", "南區", "北區", "安南區", "安平區", "中西區",
]


def district_code(district: str) -> str:
    """D01…D37 in the city's order; the social section of each office adds -SOC."""
    return f"D{TAINAN_DISTRICTS.index(district) + 1:02d}"


DEMO_USERS = [
    # username, name, kind, roles, agency, national id, company id
    ("citizen", "王小明", "citizen", [], None, "A123456789", None),
    ("lin", "林美麗", "citizen", [], None, "R223456785", None),
    ("company", "南瀛營造股份有限公司", "citizen", [], None, "B120863130", "53212539"),
    ("tb.clerk", "陳怡君", "staff", ["traffic_clerk"], "TB", None, None),
    ("tb.clerk2", "林志豪", "staff", ["traffic_clerk"], "TB", None, None),
    ("tb.supervisor", "黃科長", "staff", ["supervisor", "traffic_clerk"], "TB", None, None),
    ("tb.counter", "蔡服務員", "staff", ["counter_clerk"], "TB", None, None),
    ("police.yk", "張警員", "staff", ["police_clerk", "case_clerk"], "TNPD-YK", None, None),
    ("police.sh", "李警員", "staff", ["police_clerk"], "TNPD-SH", None, None),
    ("police.e1", "吳警員", "staff", ["police_clerk"], "TNPD-1", None, None),
    ("admin", "系統管理員", "staff", ["admin"], "TB", None, None),
    ("east.social", "鄭社工", "staff", ["district_social_clerk"], "D32-SOC", None, None),
    ("east.chief", "周課長", "staff", ["district_social_clerk", "supervisor"], "D32-SOC", None, None),
    ("yk.social", "許社工", "staff", ["district_social_clerk"], "D31-SOC", None, None),
    ("sb.clerk", "郭專員", "staff", ["social_bureau_clerk"], "SB", None, None),
    ("sb.supervisor", "蘇科長", "staff", ["supervisor", "social_bureau_clerk"], "SB", None, None),
    ("ltc.clerk", "楊照專", "staff", ["care_clerk"], "LTCC", None, None),
    ("ca.clerk", "何專員", "staff", ["case_clerk"], "CA", None, None),
    ("ca.supervisor", "江科長", "staff", ["supervisor", "case_clerk"], "CA", None, None),
    ("hb.clerk", "羅護理師", "staff", ["case_clerk"], "HB", None, None),
    ("sb.care", "田社工", "staff", ["case_clerk"], "SB", None, None),
    ("adpp.clerk", "梁獸醫師", "staff", ["case_clerk"], "ADPP", None, None),
    ("lb.clerk", "宋專員", "staff", ["case_clerk"], "LB", None, None),
    ("eb.clerk", "韓輔導員", "staff", ["case_clerk"], "EB", None, None),
    ("vc.yk", "大灣里 陳里長", "citizen", ["village_chief"], None, "F126543211", None),
    ("ltc.assessor", "謝照專", "staff", ["care_assessor"], "LTCC", None, None),
    ("ltc.assessor2", "何照專", "staff", ["care_assessor"], "LTCC", None, None),
    ("ltc.supervisor", "羅督導", "staff", ["supervisor", "care_clerk"], "LTCC", None, None),
    ("fb.clerk", "趙消防員", "staff", ["case_clerk"], "FB", None, None),
    ("fb.supervisor", "錢大隊長", "staff", ["supervisor", "case_clerk"], "FB", None, None),
    ("epb.clerk", "孫稽查員", "staff", ["case_clerk"], "EPB", None, None),
    ("pwb.clerk", "周技士", "staff", ["case_clerk"], "PWB", None, None),
    ("yk.office", "吳課員", "staff", ["case_clerk"], "D31", None, None),
    ("analyst", "劉分析師", "staff", ["analyst"], "RDEC", None, None),
    ("analyst2", "潘分析師", "staff", ["analyst"], "RDEC", None, None),
]

LOW_INCOME = {
    "key": "low_income",
    "case_prefix": "LIH",
    "name": "低收入戶／中低收入戶申請",
    "name_en": "Low-income household status",
    "category": "社會福利",
    "description": "設籍本市之家庭申請低收入戶或中低收入戶資格。以 MyData 帶入戶籍、所得、財產等資料可免附證明文件；"
                   "由戶籍地區公所社會課初審，社會局複審，核定後由區公所通知並寄發核定函。",
    "owner_agency": "SB",
    "application_form": "lih_application",
    "statutory_days": 20,
    "bpmn": "low_income.bpmn",
    "search_fields": {
        "holder": "application['applicant']['name']",
        "category": "application['category']",
        "district": "household['district'] if household else application['applicant']['district']",
    },
}

LONG_TERM_CARE = {
    "key": "long_term_care",
    "case_prefix": "LTC",
    "name": "長照服務申請",
    "name_en": "Long-term care services",
    "category": "長期照顧",
    "description": "65 歲以上長者、領有身心障礙證明者、55 歲以上原住民族或 50 歲以上失智症者，可線上申請長照服務"
                   "（居家照顧、日間照顧、家庭托顧、專業服務、交通接送、輔具及居家無障礙、喘息服務）。"
                   "家屬可經長輩授權代為申請；長期照顧管理中心審查資格後，由家屬線上預約照管專員到府評估時段，"
                   "評估後核定長照需要等級與照顧計畫。",
    "owner_agency": "LTCC",
    "application_form": "ltc_application",
    "statutory_days": 15,
    "bpmn": "long_term_care.bpmn",
    "search_fields": {
        "holder": "application['recipient']['name']",
        "district": "application['recipient']['district']",
        "services": "application['services']",
        "visit_times": "application['visit_times']",
    },
}

CARE_REFERRAL = {
    "key": "care_referral",
    "case_prefix": "REF",
    "name": "綜合式主動關懷及轉介",
    "name_en": "Care referral",
    "category": "社會福利",
    "description": "發現需要協助的鄰居、長輩或家人，如孤老弱勢、寵物照顧、垃圾清運、後送就醫、勞工權益、學生關懷等，"
                   "民眾、里長或機關人員都可線上通報；系統依類別轉介權責機關處理，處理結果通知通報人。",
    "owner_agency": "CA",
    "application_form": "ref_application",
    "statutory_days": 5,
    "open_to_staff": True,
    "bpmn": "care_referral.bpmn",
    "search_fields": {
        "category": "category",
        "district": "application['person']['district']",
        "urgency": "application['urgency']",
    },
}

ROAD_EVENT = {
    "key": "road_event",
    "case_prefix": "REV",
    "name": "道路使用／大型活動申請",
    "name_en": "Road use for an event",
    "category": "交通",
    "description": "於道路舉辦活動（廟會、路跑、市集、晚會等）需使用或封閉道路者，線上提出申請。交通局受理後，"
                   "系統依活動規模與設施自動分派轄區警察分局、消防局、環保局、工務局及活動所在區公所平行會辦，"
                   "各機關互相看得到會辦情形；需補正時各機關的補正事項彙整成一次通知，最後由交通局綜合核定。",
    "owner_agency": "TB",
    "application_form": "rev_application",
    "statutory_days": 14,
    "bpmn": "road_event.bpmn",
    "search_fields": {
        "holder": "application['applicant']['name']",
        "event": "application['event']['name']",
        "district": "application['event']['district']",
        "event_date": "application['event']['date']",
        "attendance": "application['event']['attendance']",
        "cohandlers": "cohandlers",
    },
}

SERVICES = [
    {
        "key": "large_vehicle_permit",
        "case_prefix": "LVP",
        "name": "大型車輛行駛管制道路通行證",
        "name_en": "Large-vehicle restricted-road permit",
        "category": "交通",
        "description": "大貨車、聯結車等大型車輛因興修房屋或其他工程施工、貨物運送，需於管制時段行駛市區管制道路者，"
                       "線上申請通行證。交通局收件後會同路線行經行政區之警察分局會辦，核准後核發附 QR Code 之電子通行證。",
        "owner_agency": "TB",
        "application_form": "lvp_application",
        "statutory_days": 7,
        "bpmn": "large_vehicle_permit.bpmn",
        "search_fields": {
            "holder": "application['applicant']['name']",
            "plates": "[v['plate'] for v in application['vehicles']]",
            "districts": "sorted(set(d for s in application['route_segments'] for d in s['districts']))",
            "start_date": "application['period']['start_date']",
            "end_date": "application['period']['end_date']",
        },
    },
    LOW_INCOME,
    LONG_TERM_CARE,
    ROAD_EVENT,
    CARE_REFERRAL,
]


def office_name(district: str) -> str:
    """臺南市永康區公所, but 臺南市東區區公所 for the one-character districts."""
    return f"臺南市{district}{'區公所' if len(district) == 2 else '公所'}"


def _agencies() -> list[Agency]:
    """Tainan's agencies that the shipped services route work to, parents first."""
    rows = [
        Agency(code="TCG", name="臺南市政府", kind="city", districts=[]),
        Agency(code="TB", name="臺南市政府交通局", kind="bureau", parent_code="TCG", districts=[]),
        Agency(code="TNPD", name="臺南市政府警察局", kind="bureau", parent_code="TCG", districts=[]),
        Agency(code="SB", name="臺南市政府社會局", kind="bureau", parent_code="TCG", districts=[]),
        Agency(code="HB", name="臺南市政府衛生局", kind="bureau", parent_code="TCG", districts=[]),
        Agency(code="LTCC", name="臺南市長期照顧管理中心", kind="centre", parent_code="HB", districts=[]),
        Agency(code="FB", name="臺南市政府消防局", kind="bureau", parent_code="TCG", districts=[]),
        Agency(code="EPB", name="臺南市政府環境保護局", kind="bureau", parent_code="TCG", districts=[]),
        Agency(code="PWB", name="臺南市政府工務局", kind="bureau", parent_code="TCG", districts=[]),
        Agency(code="CA", name="臺南市政府民政局", kind="bureau", parent_code="TCG", districts=[]),
        Agency(code="RDEC", name="臺南市政府研究發展考核委員會", kind="bureau", parent_code="TCG", districts=[]),
        Agency(code="ADPP", name="臺南市動物防疫保護處", kind="bureau", parent_code="TCG", districts=[]),
        Agency(code="LB", name="臺南市政府勞工局", kind="bureau", parent_code="TCG", districts=[]),
        Agency(code="EB", name="臺南市政府教育局", kind="bureau", parent_code="TCG", districts=[]),
    ]
    rows += [Agency(code=code, name=f"臺南市政府警察局{name}", kind="police", parent_code="TNPD",
                    districts=districts) for code, (name, districts) in POLICE_SUB_BUREAUS.items()]
    for district in TAINAN_DISTRICTS:
        code = district_code(district)
        rows.append(Agency(code=code, name=office_name(district), kind="district", parent_code="TCG",
                           districts=[district]))
        rows.append(Agency(code=f"{code}-SOC", name=f"{office_name(district)}社會課", kind="section",
                           parent_code=code, districts=[district]))
    return rows


def seed_directory(s) -> None:
    """Adds the agencies that are missing; existing rows are left as they are."""
    for agency in _agencies():
        if s.get(Agency, agency.code) is None:
            s.add(agency)
            s.flush()


def seed_users(s, password: str = DEMO_PASSWORD) -> None:
    hashed = hash_password(password)
    for username, name, kind, roles, agency, national_id, company_id in DEMO_USERS:
        if s.scalar(select(User).where(User.username == username)):
            continue
        s.add(User(username=username, display_name=name, kind=kind, roles=roles,
                   agency_code=agency, national_id=national_id, company_id=company_id,
                   birth_date=BIRTH_DATES.get(national_id or ""),
                   password_hash=hashed, email=f"{username.replace('.', '-')}@example.tw",
                   phone="0912345678"))
    systems = (("police-verify", "警察驗證系統", "permit_verifier", "demo-police-verify-token"),
               ("city-dashboard", "城市儀表板", "dashboard", "demo-dashboard-token"))
    for username, name, role, token in systems:
        if not s.scalar(select(User).where(User.username == username)):
            s.add(User(username=username, display_name=name, kind="system", roles=[role],
                       api_token_hash=token_hash(token)))


def seed_services(s) -> None:
    for item in SERVICES:
        fields = {k: v for k, v in item.items() if k != "bpmn"}
        service = s.get(Service, item["key"])
        if service is None:
            s.add(Service(**fields, reviewed_at=utcnow()))
        else:
            for k, v in fields.items():
                setattr(service, k, v)


#: Demo assessors' weekly rounds: (weekday, hour, minute) in Taipei time, 90 minutes each.
ASSESSMENT_ROUNDS = [(d, h, m) for d in range(5) for h, m in ((9, 0), (10, 30), (14, 0), (15, 30))] + [(5, 9, 0)]


def seed_slots(s, today: date, weeks: int = 3) -> None:
    """Home-assessment slots for the demo assessors over the coming weeks (missing ones only)."""
    assessors = s.scalars(select(User).where(User.agency_code == "LTCC")).all()
    for assessor in (a for a in assessors if "care_assessor" in (a.roles or [])):
        have = set(s.scalars(select(AssessmentSlot.starts_at).where(
            AssessmentSlot.assessor_id == assessor.id)).all())
        for offset in range(1, weeks * 7 + 1):
            day = today + timedelta(days=offset)
            for weekday, hour, minute in ASSESSMENT_ROUNDS:
                if day.weekday() != weekday:
                    continue
                start = datetime.combine(day, time(hour, minute), TAIPEI).astimezone(timezone.utc)
                if start in have:
                    continue
                s.add(AssessmentSlot(agency_code="LTCC", assessor_id=assessor.id, starts_at=start,
                                     ends_at=start + timedelta(minutes=90), districts=[]))


def seed(engine: CaseEngine, bpmn_dir: Path, password: str = DEMO_PASSWORD) -> None:
    """Idempotent: running it twice changes nothing."""
    with transaction(engine.sessions) as s:
        seed_directory(s)
        seed_users(s, password)
        s.flush()
        seed_slots(s, engine.clock().astimezone(TAIPEI).date())
        seed_services(s)
        s.flush()
        referrals.seed_routes(s)
        service_catalog.seed(s)
        audit.append(s, "system.seed")
    for item in SERVICES:
        engine.deploy(item["key"], (bpmn_dir / item["bpmn"]).read_bytes())
