"""Labels of the open-data codes in the request's language."""
from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from reports.opendata import OPEN, OTHER

from .. import labels

OUTCOMES = {**labels.OUTCOMES, OPEN: labels.STATUSES["open"], OTHER: _l("其他")}

# Romanised names as the city publishes them in English.
DISTRICTS_EN = {
    "新營區": "Xinying District", "鹽水區": "Yanshui District", "白河區": "Baihe District",
    "柳營區": "Liuying District", "後壁區": "Houbi District", "東山區": "Dongshan District",
    "麻豆區": "Madou District", "下營區": "Xiaying District", "六甲區": "Liujia District",
    "官田區": "Guantian District", "大內區": "Danei District", "佳里區": "Jiali District",
    "學甲區": "Xuejia District", "西港區": "Xigang District", "七股區": "Qigu District",
    "將軍區": "Jiangjun District", "北門區": "Beimen District", "新化區": "Xinhua District",
    "善化區": "Shanhua District", "新市區": "Xinshi District", "安定區": "Anding District",
    "山上區": "Shanshang District", "玉井區": "Yujing District", "楠西區": "Nanxi District",
    "南化區": "Nanhua District", "左鎮區": "Zuozhen District", "仁德區": "Rende District",
    "歸仁區": "Guiren District", "關廟區": "Guanmiao District", "龍崎區": "Longqi District",
    "永康區": "Yongkang District", "東區": "East District", "南區": "South District",
    "北區": "North District", "安南區": "Annan District", "安平區": "Anping District",
    "中西區": "West Central District",
}


def outcome(code: str) -> str:
    return str(OUTCOMES.get(code, code))


def district(name: str | None, locale: str) -> str:
    if name is None:
        return _("未分區")
    return DISTRICTS_EN.get(name, name) if locale == "en" else name


def service(key: str, names: dict[str, tuple[str, str]], locale: str) -> str:
    """The catalog name, in English where the catalog has one."""
    zh, en = names.get(key, (key, ""))
    return (en or zh) if locale == "en" else zh
