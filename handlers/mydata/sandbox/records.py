"""Synthetic MyData records: Tainan residents and companies, and each dataset's files for them.

``population(seed, today)`` gives the same people for the same arguments; ages, expiry dates and
income years are relative to ``today``. The dicts inside a record (incomes, vehicles, licences,
disability …) hold JSON-ready values, dates as ``YYYY-MM-DD`` strings.
"""
from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache
from typing import Any

from ..datasets import (
    COMPANY,
    DISABILITY,
    DRIVING,
    HOUSEHOLD,
    INCOME,
    KINSHIP,
    LOW_INCOME,
    PROPERTY,
    RESOURCES,
    VEHICLES,
    WHOLE_HOUSEHOLD,
)

PROVIDERS: dict[str, str] = {
    HOUSEHOLD: "內政部戶政司",
    WHOLE_HOUSEHOLD: "內政部戶政司",
    KINSHIP: "內政部戶政司",
    LOW_INCOME: "衛生福利部社會救助及社工司",
    DISABILITY: "衛生福利部",
    INCOME: "財政部財政資訊中心",
    PROPERTY: "財政部財政資訊中心",
    VEHICLES: "交通部公路局",
    DRIVING: "交通部公路局",
    COMPANY: "經濟部商業發展署",
}

NO_DATA = "無資料"
CITY = "臺南市"
GENERAL, MID_LOW_INCOME, LOW_INCOME_HOUSEHOLD = "一般", "中低收入戶", "低收入戶"

#: Tainan's 37 districts and their postal codes.
DISTRICTS: dict[str, str] = {
    "中西區": "700", "東區": "701", "南區": "702", "北區": "704", "安平區": "708", "安南區": "709",
    "永康區": "710", "歸仁區": "711", "新化區": "712", "左鎮區": "713", "玉井區": "714",
    "楠西區": "715", "南化區": "716", "仁德區": "717", "關廟區": "718", "龍崎區": "719",
    "官田區": "720", "麻豆區": "721", "佳里區": "722", "西港區": "723", "七股區": "724",
    "將軍區": "725", "學甲區": "726", "北門區": "727", "新營區": "730", "後壁區": "731",
    "白河區": "732", "東山區": "733", "六甲區": "734", "下營區": "735", "柳營區": "736",
    "鹽水區": "737", "善化區": "741", "大內區": "742", "山上區": "743", "新市區": "744",
    "安定區": "745",
}
#: Districts of the former Tainan City (ID letter D); the rest were Tainan County (R).
_FORMER_CITY = frozenset({"中西區", "東區", "南區", "北區", "安平區", "安南區"})

_VILLAGES: dict[str, tuple[str, ...]] = {
    "永康區": ("大橋里", "西勢里", "復興里", "網寮里", "蔦松里", "六合里", "崑山里", "大灣里", "三民里", "正強里"),
    "東區": ("崇明里", "東門里", "大學里", "德光里", "莊敬里", "東光里", "虎尾里", "裕聖里", "大同里"),
    "玉井區": ("玉井里", "中正里", "豐里里", "沙田里", "竹圍里", "三和里", "望明里", "層林里"),
    "南化區": ("南化里", "西埔里", "北寮里", "中坑里", "玉山里", "小崙里", "關山里", "東和里"),
    "中西區": ("赤嵌里", "郡王里", "五條港里", "永華里", "開山里", "淺草里", "南門里", "法華里", "小西門里"),
    "安平區": ("平通里", "國平里", "石門里", "王城西里", "建平里", "怡平里", "華平里", "億載里", "金城里"),
    "安南區": ("海佃里", "安順里", "土城里", "鹿耳里", "城北里", "顯宮里", "長安里", "總頭里", "學東里"),
    "北區": ("大港里", "成功里", "長榮里", "正覺里", "大光里", "元美里", "開元里", "北華里"),
    "南區": ("鯤鯓里", "喜東里", "廣州里", "明亮里", "大林里", "新生里", "佛壇里", "金華里"),
    "新營區": ("東興里", "民權里", "三仙里", "永生里", "新北里", "太北里", "埤寮里", "土庫里"),
    "麻豆區": ("麻口里", "興農里", "巷口里", "穀興里", "井東里", "寮廍里", "北勢里", "南勢里", "安業里"),
    "佳里區": ("佳里里", "建南里", "佳化里", "禮化里", "鎮山里", "漳洲里", "子龍里", "海澄里"),
    "善化區": ("東關里", "光文里", "文昌里", "溪美里", "坐駕里", "胡家里", "嘉北里", "田寮里"),
    "新化區": ("東榮里", "清水里", "知義里", "武安里", "太平里", "礁坑里", "那拔里", "豐榮里"),
    "歸仁區": ("歸南里", "歸北里", "六甲里", "七甲里", "八甲里", "大潭里", "武東里", "沙崙里"),
}
_ROADS: dict[str, tuple[str, ...]] = {
    "永康區": ("中正路", "中華路", "中山南路", "大灣路", "永大路", "小東路"),
    "東區": ("崇明路", "大學路", "東門路", "林森路", "裕農路", "崇學路"),
    "玉井區": ("中正路", "中華路", "民生路", "中山路"),
    "南化區": ("中山路", "民生路", "忠孝路"),
    "中西區": ("民族路", "府前路", "西門路", "海安路", "民生路", "忠義路"),
    "安平區": ("安平路", "平通路", "健康路", "永華路", "國勝路", "育平路"),
    "安南區": ("安中路", "海佃路", "安和路", "長和路", "安明路", "府安路"),
    "北區": ("公園路", "北門路", "成功路", "開元路", "西門路", "文賢路"),
    "南區": ("金華路", "健康路", "大同路", "新興路", "明興路", "夏林路"),
    "新營區": ("中山路", "民治路", "三民路", "復興路", "中正路"),
    "麻豆區": ("中山路", "興中路", "民生路", "興國路"),
    "佳里區": ("延平路", "光復路", "忠孝路", "中山路", "文化路"),
    "善化區": ("中山路", "中正路", "大成路", "民生路", "光復路"),
    "新化區": ("中正路", "中山路", "忠孝路", "信義路"),
    "歸仁區": ("中山路", "民權路", "忠孝北路", "中正南路", "信義南路"),
}

_SURNAMES = tuple("陳林黃張李王吳劉蔡楊許鄭謝郭洪曾邱廖賴周葉蘇莊呂江何蕭羅高潘簡朱鍾游彭詹胡施沈余盧梁趙顏柯翁魏孫戴")
_GIVEN: dict[tuple[str, str], tuple[str, ...]] = {
    ("old", "M"): ("金水", "福來", "添財", "火旺", "清標", "萬福", "榮輝", "天賜", "進財", "阿土"),
    ("old", "F"): ("秀英", "玉蘭", "月娥", "寶珠", "素貞", "罔市", "阿綢", "美玉", "秀琴", "金枝"),
    ("mid", "M"): ("志明", "建宏", "文雄", "國雄", "明輝", "志偉", "俊宏", "家銘", "宗憲", "正雄"),
    ("mid", "F"): ("淑芬", "美玲", "雅惠", "麗華", "惠婷", "佩君", "淑惠", "秀鳳", "玉珍", "美華"),
    ("young", "M"): ("家豪", "宗翰", "冠宇", "俊傑", "柏翰", "承恩", "冠廷", "彥廷", "建志", "宇軒"),
    ("young", "F"): ("怡君", "雅婷", "佳穎", "詩涵", "怡婷", "欣怡", "雅琪", "佩珊", "郁婷", "筱涵"),
    ("kid", "M"): ("宥廷", "品睿", "宇恩", "承翰", "柏宇", "睿恩", "宥辰", "子睿", "恩碩", "晨睿"),
    ("kid", "F"): ("品妍", "子晴", "欣妤", "語彤", "芯妤", "詠晴", "宥蓁", "苡安", "可晴", "以恩"),
}
_EMPLOYERS = ("南科光電股份有限公司", "永康精密工業股份有限公司", "府城餐飲有限公司", "安南物流股份有限公司",
              "南瀛醫療社團法人", "赤崁紡織股份有限公司", "鯤鯓水產股份有限公司", "新營食品股份有限公司")
_BANKS = ("中華郵政股份有限公司", "臺灣土地銀行", "臺灣銀行", "合作金庫商業銀行")
_LESSEES = ("玉井青果合作社", "曾文芒果產銷班", "南化農產有限公司")
_PLATE_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"
_ID_LETTERS = "ABCDEFGHJKLMNPQRSTUVXYWZIO"
_ID_WEIGHTS = (1, 9, 8, 7, 6, 5, 4, 3, 2, 1)
_BAN_WEIGHTS = (1, 2, 1, 2, 1, 2, 4, 1)
_LICENCE_FOR = {"自用小客車": "普通小型車", "自用小貨車": "普通小型車", "普通重型機車": "普通重型機車"}
_CARS = frozenset({"自用小客車", "自用小貨車"})

NEURO = "第1類 神經系統構造及精神、心智功能"
MOVEMENT = "第7類 神經、肌肉、骨骼之移動相關構造及其功能"


@dataclass(frozen=True)
class Person:
    national_id: str
    name: str
    sex: str
    birth_date: date
    district: str
    village: str
    address: str
    household_id: str
    relation: str
    welfare: str = GENERAL
    disability: dict[str, str] | None = None
    indigenous: bool = False
    incomes: list[dict[str, Any]] = field(default_factory=list)
    properties: list[dict[str, Any]] = field(default_factory=list)
    vehicles: list[dict[str, str]] = field(default_factory=list)
    licences: list[dict[str, str]] = field(default_factory=list)
    company_id: str | None = None

    def age(self, on: date) -> int:
        return on.year - self.birth_date.year - ((on.month, on.day) < (self.birth_date.month, self.birth_date.day))


@dataclass(frozen=True)
class Company:
    company_id: str
    name: str
    responsible_person: str
    responsible_name: str
    address: str
    capital: int
    status: str = "核准設立"
    vehicles: list[dict[str, str]] = field(default_factory=list)


# -- the households, as templates the seed fills in -----------------------------------------------

@dataclass(frozen=True)
class _Fixed:
    national_id: str
    name: str
    birth_date: date


@dataclass(frozen=True)
class _Firm:
    name: str
    capital: int
    company_id: str = ""
    address: str = ""
    vehicles: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class _Member:
    """One household member; relation 子女 lets the seed pick 子 or 女, a plate "" is generated."""

    relation: str
    age: int = 0
    sex: str = ""
    fixed: _Fixed | None = None
    wage: tuple[int, int] | None = None
    rent: tuple[int, int] | None = None
    pension: tuple[int, int] | None = None
    vehicles: tuple[tuple[str, str], ...] = ()
    licences: tuple[str, ...] = ()
    disability: tuple[str, str] | None = None
    indigenous: bool = False
    firm: _Firm | None = None


@dataclass(frozen=True)
class _Home:
    """A household; parent_home is the index of the home where the head's parents live."""

    district: str
    members: tuple[_Member, ...]
    welfare: str = GENERAL
    low_type: str = ""
    owns_home: bool = True
    address: tuple[str, int, str, int] | None = None
    parent_home: int | None = None


_CAR = (("自用小客車", ""),)
_SCOOTER = (("普通重型機車", ""),)

_HOMES: tuple[_Home, ...] = (
    _Home("永康區", (
        _Member("戶長", fixed=_Fixed("A123456789", "王小明", date(1985, 6, 12)), wage=(780_000, 1_100_000),
                vehicles=(("自用小客車", "ABC-1234"),)),
        _Member("配偶", 39, wage=(480_000, 680_000)),
        _Member("子女", 9),
    ), address=("大橋里", 8, "中華路", 425)),
    _Home("永康區", (
        _Member("戶長", fixed=_Fixed("B120863130", "陳大文", date(1970, 3, 21)), wage=(1_200_000, 1_800_000),
                licences=("職業大貨車",),
                firm=_Firm("南瀛營造股份有限公司", 50_000_000, "53212539", "臺南市永康區中正路100號",
                           (("大貨車", "KLA-1234"), ("聯結車", "KLB-5678")))),
        _Member("配偶", 53, wage=(520_000, 720_000)),
        _Member("子女", 26, wage=(420_000, 560_000), vehicles=_SCOOTER),
        _Member("母", 82),
    ), address=("西勢里", 5, "中正路", 212)),
    _Home("東區", (
        _Member("戶長", fixed=_Fixed("R223456785", "林美麗", date(1948, 9, 5)), disability=(MOVEMENT, "中度")),
        _Member("子", 49, wage=(90_000, 200_000)),
    ), welfare=LOW_INCOME_HOUSEHOLD, low_type="第2款", owns_home=False, address=("崇明里", 12, "崇明路", 155)),
    _Home("玉井區", (_Member("戶長", 78, sex="M", rent=(200_000, 270_000)),),
          welfare=MID_LOW_INCOME, low_type=MID_LOW_INCOME),
    _Home("南化區", (
        _Member("戶長", 56, sex="F", indigenous=True, wage=(300_000, 450_000), vehicles=_SCOOTER),
        _Member("母", 80, indigenous=True, disability=(NEURO, "重度")),
    )),
    _Home("中西區", (_Member("戶長", 72, sex="M", pension=(300_000, 520_000)), _Member("配偶", 70))),
    _Home("安平區", (
        _Member("戶長", 45, sex="M", wage=(900_000, 1_300_000), vehicles=_CAR,
                firm=_Firm("平通餐飲有限公司", 3_000_000)),
        _Member("配偶", 43, wage=(450_000, 650_000)),
        _Member("子女", 15),
        _Member("子女", 12),
    )),
    _Home("安南區", (
        _Member("戶長", 40, sex="F", wage=(600_000, 780_000), vehicles=_SCOOTER),
        _Member("子女", 10),
        _Member("母", 67),
    ), welfare=MID_LOW_INCOME, low_type=MID_LOW_INCOME, owns_home=False),
    _Home("北區", (
        _Member("戶長", 60, sex="M", pension=(300_000, 480_000), disability=(NEURO, "輕度")),
        _Member("配偶", 58, wage=(380_000, 520_000)),
    )),
    _Home("南區", (
        _Member("戶長", 30, sex="M", wage=(480_000, 700_000), vehicles=_SCOOTER),
        _Member("配偶", 29, wage=(420_000, 600_000)),
    ), owns_home=False, parent_home=5),
    _Home("新營區", (
        _Member("戶長", 68, sex="M", pension=(250_000, 400_000)),
        _Member("配偶", 66),
        _Member("子", 40, wage=(600_000, 900_000), vehicles=_CAR,
                firm=_Firm("鹽分地帶農產有限公司", 5_000_000, vehicles=(("自用小貨車", ""),))),
    )),
    _Home("麻豆區", (
        _Member("戶長", 55, sex="M", wage=(650_000, 900_000), vehicles=_CAR),
        _Member("配偶", 52, wage=(380_000, 520_000)),
        _Member("母", 85),
    )),
    _Home("善化區", (
        _Member("戶長", 35, sex="M", wage=(550_000, 800_000), vehicles=_CAR),
        _Member("子女", 5),
    ), parent_home=3),
    _Home("佳里區", (
        _Member("戶長", 50, sex="M", wage=(60_000, 150_000), disability=(MOVEMENT, "輕度")),
        _Member("父", 77),
    ), welfare=LOW_INCOME_HOUSEHOLD, low_type="第3款"),
    _Home("新化區", (
        _Member("戶長", 62, sex="F"),
        _Member("配偶", 64, wage=(420_000, 600_000), vehicles=_CAR),
    )),
    _Home("歸仁區", (
        _Member("戶長", 33, sex="M", wage=(520_000, 760_000), vehicles=_CAR),
        _Member("配偶", 31, wage=(400_000, 560_000)),
        _Member("子女", 2),
    )),
)


# -- small helpers --------------------------------------------------------------------------------

def _iso(day: date) -> str:
    return day.isoformat()


def _shift_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def _id_check_digit(body: str) -> int:
    code = _ID_LETTERS.index(body[0]) + 10
    digits = [code // 10, code % 10, *map(int, body[1:])]
    return (10 - sum(d * w for d, w in zip(digits, _ID_WEIGHTS)) % 10) % 10


def _company_id_valid(company_id: str) -> bool:
    total = sum(p // 10 + p % 10 for p in (int(d) * w for d, w in zip(company_id, _BAN_WEIGHTS)))
    return total % 5 == 0 or (company_id[6] == "7" and (total + 1) % 5 == 0)


def _generation(birth: date) -> str:
    if birth.year <= 1955:
        return "old"
    if birth.year <= 1979:
        return "mid"
    return "young" if birth.year <= 1999 else "kid"


def _mask(national_id: str) -> str:
    return f"{national_id[:3]}****{national_id[-3:]}"


# -- building -------------------------------------------------------------------------------------

class _Builder:
    def __init__(self, seed: int, today: date) -> None:
        self.rng = random.Random(seed)
        self.today = today
        fixed = [m.fixed for h in _HOMES for m in h.members if m.fixed]
        self.ids = {f.national_id for f in fixed}
        self.names = {f.name for f in fixed}
        self.plates = {p for h in _HOMES for m in h.members
                       for _, p in m.vehicles + (m.firm.vehicles if m.firm else ()) if p}
        self.company_ids = {m.firm.company_id for h in _HOMES for m in h.members if m.firm and m.firm.company_id}
        self.household_ids: set[str] = set()
        self.people: list[Person] = []
        self.companies: list[Company] = []
        self.parents: dict[str, list[str]] = {}
        self.spouses: dict[str, str] = {}
        self.low_types: dict[str, str] = {}
        self.heads: list[Person] = []

    def build(self) -> Population:
        for home in _HOMES:
            self._home(home)
        return Population(tuple(self.people), tuple(self.companies), self.today,
                          {k: tuple(v) for k, v in self.parents.items()}, dict(self.spouses), dict(self.low_types))

    def _home(self, home: _Home) -> None:
        village, neighbour, road, number = home.address or self._address(home.district)
        address = f"{CITY}{home.district}{village}{neighbour}鄰{road}{number}號"
        household_id = self._household_id(home.district)
        father = self.heads[home.parent_home] if home.parent_home is not None else None
        head = home.members[0]
        surname = head.fixed.name[0] if head.fixed else father.name[0] if father else self.rng.choice(_SURNAMES)
        members: list[Person] = []
        for spec in home.members:
            members.append(self._person(spec, home, members, surname, village, address, household_id))
        self._link(members, father)
        if home.low_type:
            self.low_types[household_id] = home.low_type
        self.heads.append(members[0])
        self.people.extend(members)

    def _person(self, spec: _Member, home: _Home, members: list[Person], surname: str,
                village: str, address: str, household_id: str) -> Person:
        relation = self.rng.choice(("子", "女")) if spec.relation == "子女" else spec.relation
        sex = self._sex(spec, relation, members)
        birth = spec.fixed.birth_date if spec.fixed else self._birth(spec.age)
        name = spec.fixed.name if spec.fixed else self._name(self._surname(relation, members, surname), sex, birth)
        national_id = spec.fixed.national_id if spec.fixed else self._national_id(home.district, sex)
        firm = self._company(spec.firm, national_id, name, home.district) if spec.firm else None
        vehicles = [self._vehicle(kind, plate, name) for kind, plate in spec.vehicles]
        owner = home.owns_home and relation == "戶長"
        return Person(
            national_id=national_id, name=name, sex=sex, birth_date=birth, district=home.district,
            village=village, address=address, household_id=household_id, relation=relation,
            welfare=home.welfare, disability=self._disability(spec.disability), indigenous=spec.indigenous,
            incomes=self._incomes(spec, home.welfare, firm, birth),
            properties=self._properties(spec, home, owner, address, village, vehicles, firm),
            vehicles=vehicles, licences=self._licences(spec, vehicles, birth),
            company_id=firm.company_id if firm else None,
        )

    def _sex(self, spec: _Member, relation: str, members: list[Person]) -> str:
        if spec.fixed:
            return "M" if spec.fixed.national_id[1] == "1" else "F"
        if relation in ("子", "父"):
            return "M"
        if relation in ("女", "母"):
            return "F"
        if relation == "配偶":
            return "F" if members[0].sex == "M" else "M"
        return spec.sex or self.rng.choice(("M", "F"))

    def _surname(self, relation: str, members: list[Person], surname: str) -> str:
        if relation in ("配偶", "母"):
            return self.rng.choice([s for s in _SURNAMES if s != surname])
        if relation in ("子", "女") and members[0].sex == "F":
            husband = next((m for m in members if m.relation == "配偶"), None)
            return husband.name[0] if husband else surname
        return surname

    def _name(self, surname: str, sex: str, birth: date) -> str:
        given = list(_GIVEN[_generation(birth), sex])
        self.rng.shuffle(given)
        for name in (surname + g for g in given):
            if name not in self.names:
                self.names.add(name)
                return name
        raise RuntimeError(f"no unused name left for {surname}")

    def _birth(self, age: int) -> date:
        latest = _shift_years(self.today, -age)
        earliest = _shift_years(self.today, -age - 1) + timedelta(days=1)
        return latest - timedelta(days=self.rng.randint(0, (latest - earliest).days))

    def _national_id(self, district: str, sex: str) -> str:
        letter = "D" if district in _FORMER_CITY else "R"
        while True:
            body = f"{letter}{1 if sex == 'M' else 2}{self.rng.randrange(10 ** 7):07d}"
            national_id = f"{body}{_id_check_digit(body)}"
            if national_id not in self.ids:
                self.ids.add(national_id)
                return national_id

    def _household_id(self, district: str) -> str:
        letter = "D" if district in _FORMER_CITY else "R"
        while True:
            household_id = f"{letter}{self.rng.randrange(10 ** 7):07d}"
            if household_id not in self.household_ids:
                self.household_ids.add(household_id)
                return household_id

    def _company_id(self) -> str:
        while True:
            prefix = f"{self.rng.randrange(10 ** 6, 10 ** 7)}"
            company_id = next(c for c in (f"{prefix}{d}" for d in range(10)) if _company_id_valid(c))
            if company_id not in self.company_ids:
                self.company_ids.add(company_id)
                return company_id

    def _address(self, district: str) -> tuple[str, int, str, int]:
        return (self.rng.choice(_VILLAGES[district]), self.rng.randint(1, 24),
                self.rng.choice(_ROADS[district]), self.rng.randint(1, 320))

    def _plate(self) -> str:
        while True:
            letters = "".join(self.rng.choice(_PLATE_LETTERS) for _ in range(3))
            plate = f"{letters}-{self.rng.randint(1, 9999):04d}"
            if plate not in self.plates:
                self.plates.add(plate)
                return plate

    def _later(self, low: int, high: int) -> str:
        return _iso(self.today + timedelta(days=self.rng.randint(low, high)))

    def _vehicle(self, kind: str, plate: str, owner: str) -> dict[str, str]:
        return {"plateNo": plate or self._plate(), "carType": kind, "ownerName": owner,
                "licEffectDt": self._later(30, 720), "nextExamDt": self._later(15, 365)}

    def _company(self, firm: _Firm, national_id: str, name: str, district: str) -> Company:
        company_id = firm.company_id or self._company_id()
        address = firm.address or (f"{CITY}{district}{self.rng.choice(_ROADS[district])}"
                                   f"{self.rng.randint(1, 320)}號")
        company = Company(company_id, firm.name, national_id, name, address, firm.capital,
                          vehicles=[self._vehicle(kind, plate, firm.name) for kind, plate in firm.vehicles])
        self.companies.append(company)
        return company

    def _disability(self, spec: tuple[str, str] | None) -> dict[str, str] | None:
        if spec is None:
            return None
        category, level = spec
        return {"category": category, "level": level, "valid_until": self._later(180, 1800)}

    def _incomes(self, spec: _Member, welfare: str, firm: Company | None, birth: date) -> list[dict[str, Any]]:
        rng, items = self.rng, []
        if spec.wage:
            items.append(("薪資所得", firm.name if firm else rng.choice(_EMPLOYERS), round(rng.randint(*spec.wage), -3)))
        if firm:
            items.append(("營利所得", firm.name, round(rng.randint(200_000, 1_500_000), -3)))
        if spec.rent:
            items.append(("租賃所得", rng.choice(_LESSEES), round(rng.randint(*spec.rent), -2)))
        if spec.pension:
            items.append(("退職所得", rng.choice(_EMPLOYERS), round(rng.randint(*spec.pension), -3)))
        if _shift_years(birth, 20) <= self.today and rng.random() < 0.7:
            interest = (100, 3_000) if welfare != GENERAL else (1_000, 40_000)
            items.append(("利息所得", rng.choice(_BANKS), rng.randint(*interest)))
        year = self.today.year - 1
        return [{"year": year, "item": item, "payer": payer, "amount": amount} for item, payer, amount in items]

    def _properties(self, spec: _Member, home: _Home, owner: bool, address: str, village: str,
                    vehicles: list[dict[str, str]], firm: Company | None) -> list[dict[str, Any]]:
        rng, items = self.rng, []
        poor = home.welfare != GENERAL
        section = f"{home.district}{village[:-1]}段"
        if owner:
            house = (150_000, 450_000) if poor else (400_000, 2_400_000)
            land = (300_000, 800_000) if poor else (800_000, 6_000_000)
            items.append({"kind": "房屋", "description": address, "value": round(rng.randint(*house), -2)})
            items.append({"kind": "土地", "description": f"{section}{rng.randint(1, 1999):04d}-0000地號",
                          "value": round(rng.randint(*land), -2)})
        if spec.rent:
            items.append({"kind": "土地", "description": f"{section}{rng.randint(1, 1999):04d}-0000地號（農牧用地）",
                          "value": round(rng.randint(700_000, 1_600_000), -2)})
        for car in (v for v in vehicles if v["carType"] in _CARS):
            items.append({"kind": "汽車", "description": f"{car['plateNo']} {car['carType']}",
                          "value": round(rng.randint(150_000, 900_000), -3)})
        if firm:
            share = rng.choice((0.4, 0.5, 0.6))
            items.append({"kind": "投資", "description": f"{firm.name} 出資額", "value": int(firm.capital * share)})
        return items

    def _licences(self, spec: _Member, vehicles: list[dict[str, str]], birth: date) -> list[dict[str, str]]:
        classes = [*spec.licences, *(_LICENCE_FOR[v["carType"]] for v in vehicles)]
        adult, senior = _shift_years(birth, 18) <= self.today, _shift_years(birth, 75) <= self.today
        if self.rng.random() < 0.5 and not classes and adult and not senior:
            classes.append("普通重型機車")
        return [{"class": c, "valid_until": self._licence_expiry(c, birth, senior)} for c in dict.fromkeys(classes)]

    def _licence_expiry(self, licence: str, birth: date, senior: bool) -> str:
        if licence.startswith("職業"):
            return self._later(200, 2000)
        return self._later(60, 1000) if senior else _iso(_shift_years(birth, 75))

    def _link(self, members: list[Person], father: Person | None) -> None:
        head = members[0]
        spouse = next((m for m in members if m.relation == "配偶"), None)
        dad = next((m for m in members if m.relation == "父"), None)
        mom = next((m for m in members if m.relation == "母"), None)
        for a, b in ((head, spouse), (dad, mom)):
            if a and b:
                self.spouses[a.national_id], self.spouses[b.national_id] = b.national_id, a.national_id
        for child in (m for m in members if m.relation in ("子", "女")):
            self.parents[child.national_id] = [p.national_id for p in (head, spouse) if p]
        elders = [p.national_id for p in (dad, mom) if p]
        if father:
            elders += [father.national_id, *filter(None, [self.spouses.get(father.national_id)])]
        if elders:
            self.parents[head.national_id] = elders


# -- the population -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Population:
    people: tuple[Person, ...]
    companies: tuple[Company, ...]
    today: date
    parents: dict[str, tuple[str, ...]] = field(default_factory=dict)
    spouses: dict[str, str] = field(default_factory=dict)
    low_types: dict[str, str] = field(default_factory=dict)
    _by_id: dict[str, Person] = field(init=False, repr=False, compare=False)
    _firms: dict[str, Company] = field(init=False, repr=False, compare=False)
    _children: dict[str, tuple[str, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        children: dict[str, list[str]] = {}
        for child, parents in self.parents.items():
            for parent in parents:
                children.setdefault(parent, []).append(child)
        object.__setattr__(self, "_by_id", {p.national_id: p for p in self.people})
        object.__setattr__(self, "_firms", {c.company_id: c for c in self.companies})
        object.__setattr__(self, "_children", {k: tuple(v) for k, v in children.items()})

    def person(self, national_id: str) -> Person | None:
        return self._by_id.get(national_id)

    def household(self, household_id: str) -> list[Person]:
        return [p for p in self.people if p.household_id == household_id]

    def company(self, company_id: str) -> Company | None:
        return self._firms.get(company_id)

    def company_of(self, person: Person) -> Company | None:
        return self._firms.get(person.company_id) if person.company_id else None

    def parents_of(self, person: Person) -> list[Person]:
        return [self._by_id[i] for i in self.parents.get(person.national_id, ())]

    def children_of(self, person: Person) -> list[Person]:
        return [self._by_id[i] for i in self._children.get(person.national_id, ())]

    def spouse_of(self, person: Person) -> Person | None:
        spouse = self.spouses.get(person.national_id)
        return self._by_id[spouse] if spouse else None

    def relatives(self, person: Person) -> list[tuple[str, Person]]:
        """Kin up to the second degree, each with its term as seen from ``person``."""
        found = [("配偶", s) for s in filter(None, [self.spouse_of(person)])]
        found += [("父" if p.sex == "M" else "母", p) for p in self.parents_of(person)]
        found += [("子" if c.sex == "M" else "女", c) for c in self.children_of(person)]
        found += [(_sibling_term(person, s), s) for s in self._siblings(person)]
        for parent in self.parents_of(person):
            terms = ("祖父", "祖母") if parent.sex == "M" else ("外祖父", "外祖母")
            found += [(terms[g.sex == "F"], g) for g in self.parents_of(parent)]
        for child in self.children_of(person):
            terms = ("孫子", "孫女") if child.sex == "M" else ("外孫", "外孫女")
            found += [(terms[g.sex == "F"], g) for g in self.children_of(child)]
        return found

    def _siblings(self, person: Person) -> list[Person]:
        ids = {c.national_id for p in self.parents_of(person) for c in self.children_of(p)} - {person.national_id}
        return sorted((self._by_id[i] for i in ids), key=lambda p: p.birth_date)

    def files(self, resource_id: str, national_id: str) -> dict[str, bytes]:
        """The data files of one dataset for one data subject; KeyError for an unknown either."""
        if resource_id not in RESOURCES:
            raise KeyError(f"unknown resource {resource_id}")
        person = self.person(national_id)
        if person is None:
            raise KeyError(f"unknown person {national_id}")
        record = _RENDERERS[resource_id](self, person)
        files = {f"{resource_id}.json": _json(record if record is not None else _no_data(person))}
        if record is not None and resource_id in _DOCUMENTS:
            files[f"{resource_id}.pdf"] = _DOCUMENTS[resource_id](record)
        return files


def generate(seed: int, today: date) -> Population:
    """A fresh population for ``seed``; the same arguments always give an equal one."""
    return _Builder(seed, today).build()


@lru_cache(maxsize=8)
def _cached(seed: int, today: date) -> Population:
    return generate(seed, today)


def population(seed: int = 2026, today: date | None = None) -> Population:
    """The population for ``seed`` as of ``today`` (default: the current date), built once."""
    return _cached(seed, today or date.today())


def _sibling_term(person: Person, sibling: Person) -> str:
    older = sibling.birth_date < person.birth_date
    if sibling.sex == "M":
        return "兄" if older else "弟"
    return "姊" if older else "妹"


# -- dataset files --------------------------------------------------------------------------------

Record = dict[str, Any]


def _json(record: Record) -> bytes:
    return json.dumps(record, ensure_ascii=False, indent=2).encode("utf-8")


def _no_data(person: Person) -> Record:
    return {"national_id": person.national_id, "status": NO_DATA}


def _subject(person: Person) -> Record:
    return {"national_id": person.national_id, "name": person.name}


def _member(person: Person) -> Record:
    return {"national_id": person.national_id, "name": person.name, "sex": person.sex,
            "relation": person.relation, "birth_date": _iso(person.birth_date), "indigenous": person.indigenous}


def _household_record(pop: Population, person: Person) -> Record:
    return {**_member(person), "address": person.address, "district": person.district,
            "village": person.village, "household_id": person.household_id}


def _whole_household(pop: Population, person: Person) -> Record:
    return {**_subject(person), "household_id": person.household_id, "address": person.address,
            "district": person.district, "village": person.village,
            "members": [_member(m) for m in pop.household(person.household_id)]}


_DEGREES: dict[str, int | None] = {"配偶": None, "父": 1, "母": 1, "子": 1, "女": 1}


def _kinship(pop: Population, person: Person) -> Record:
    relatives = [{"relation": term, "degree": _DEGREES.get(term, 2),
                  "national_id": r.national_id, "name": r.name, "sex": r.sex,
                  "birth_date": _iso(r.birth_date), "household_id": r.household_id}
                 for term, r in pop.relatives(person)]
    return {**_subject(person), "relatives": relatives}


def _low_income(pop: Population, person: Person) -> Record | None:
    if person.welfare == GENERAL:
        return None
    year = pop.today.year
    members = pop.household(person.household_id)
    return {**_subject(person), "lic_title": person.welfare, "low_type": pop.low_types[person.household_id],
            "app_no": f"DA{year - 1912:03d}{person.household_id[-6:]}",
            "app_date": _iso(date(year - 1, 11, 20)), "chk_date": _iso(date(year - 1, 12, 20)),
            "valid_until": _iso(date(year, 12, 31)), "city": CITY, "district": person.district,
            "village": person.village, "address": person.address, "applicant": members[0].name,
            "members": [{"national_id": m.national_id, "name": m.name, "relation": m.relation,
                         "birth_date": _iso(m.birth_date)} for m in members]}


def _disability(pop: Population, person: Person) -> Record | None:
    return {**_subject(person), **person.disability} if person.disability else None


def _income(pop: Population, person: Person) -> Record | None:
    if not person.incomes:
        return None
    return {**_subject(person), "year": person.incomes[0]["year"], "items": person.incomes,
            "total": sum(i["amount"] for i in person.incomes)}


def _property(pop: Population, person: Person) -> Record | None:
    if not person.properties:
        return None
    return {**_subject(person), "items": person.properties, "total": sum(p["value"] for p in person.properties)}


def _vehicles(pop: Population, person: Person) -> Record | None:
    firm = pop.company_of(person)
    vehicles = person.vehicles + (firm.vehicles if firm else [])
    return {**_subject(person), "vehicles": vehicles} if vehicles else None


def _driving(pop: Population, person: Person) -> Record | None:
    return {**_subject(person), "licences": person.licences} if person.licences else None


def _company(pop: Population, person: Person) -> Record | None:
    firm = pop.company_of(person)
    if firm is None:
        return None
    return {**_subject(person), "companies": [{
        "company_id": firm.company_id, "name": firm.name, "responsible_person": firm.responsible_person,
        "responsible_name": firm.responsible_name, "address": firm.address, "capital": firm.capital,
        "status": firm.status}]}


_RENDERERS: dict[str, Callable[[Population, Person], Record | None]] = {
    HOUSEHOLD: _household_record,
    WHOLE_HOUSEHOLD: _whole_household,
    KINSHIP: _kinship,
    LOW_INCOME: _low_income,
    DISABILITY: _disability,
    INCOME: _income,
    PROPERTY: _property,
    VEHICLES: _vehicles,
    DRIVING: _driving,
    COMPANY: _company,
}


# -- certificates as PDF --------------------------------------------------------------------------

_LEVELS = {"輕度": "mild", "中度": "moderate", "重度": "severe", "極重度": "profound"}


def _pdf_text(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def minimal_pdf(lines: list[str]) -> bytes:
    """A one-page PDF 1.4 of ASCII text lines in Helvetica."""
    shown = " ".join(f"({_pdf_text(line)}) Tj T*" for line in lines)
    stream = f"BT /F1 11 Tf 15 TL 56 780 Td {shown} ET".encode("ascii")
    bodies = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        (b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
         b"/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>"),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
    ]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(bodies, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(bodies) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(bodies) + 1, xref)
    return bytes(out)


def _low_income_pdf(record: Record) -> bytes:
    kind = "low-income" if record["lic_title"] == LOW_INCOME_HOUSEHOLD else "middle-low-income"
    return minimal_pdf([
        "Tainan City Government, Social Affairs Bureau",
        f"Certificate of {kind} household",
        f"Certificate no. {record['app_no']}",
        f"Holder ID: {_mask(record['national_id'])}",
        f"Household members: {len(record['members'])}",
        f"Valid until: {record['valid_until']}",
    ])


def _disability_pdf(record: Record) -> bytes:
    category = "".join(c for c in record["category"].split()[0] if c.isdigit())
    return minimal_pdf([
        "Ministry of Health and Welfare",
        "Certificate of disability",
        f"Holder ID: {_mask(record['national_id'])}",
        f"Category {category}, level: {_LEVELS.get(record['level'], 'unknown')}",
        f"Valid until: {record['valid_until']}",
    ])


_DOCUMENTS: dict[str, Callable[[Record], bytes]] = {
    LOW_INCOME: _low_income_pdf,
    DISABILITY: _disability_pdf,
}
