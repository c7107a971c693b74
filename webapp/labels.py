"""Display labels for codes the engine stores, in the request's language."""
from __future__ import annotations

from flask_babel import gettext
from flask_babel import lazy_gettext as _l

OUTCOMES = {
    "approved": _l("核准"),
    "rejected": _l("駁回"),
    "not_accepted": _l("不予受理"),
    "withdrawn": _l("已撤回"),
    "completed": _l("已完成"),
    "ineligible": _l("不符長照資格"),
    "care_plan": _l("已核定照顧計畫"),
}
STATUSES = {"open": _l("處理中"), "closed": _l("已結案"), "cancelled": _l("已撤回")}
PETITION_STATUSES = {"queued": _l("待送出至 1999"), "open": _l("已立案"), "in_progress": _l("處理中"),
                     "closed": _l("已回覆結案")}
ROLES = {
    "applicant": _l("申請人"),
    "traffic_clerk": _l("交通局承辦人"),
    "police_clerk": _l("警察分局承辦人"),
    "supervisor": _l("主管"),
    "counter_clerk": _l("臨櫃人員"),
    "case_clerk": _l("承辦人"),
    "district_social_clerk": _l("區公所社會課承辦人"),
    "social_bureau_clerk": _l("社會局承辦人"),
    "care_clerk": _l("長照管理中心承辦人"),
    "care_assessor": _l("照管專員"),
    "analyst": _l("業務分析人員"),
    "admin": _l("系統管理員"),
    "village_chief": _l("里長"),
}
DECISIONS = {
    "cosign": _l("受理並送會辦"),
    "correction": _l("通知補正"),
    "reject": _l("駁回／不予受理"),
    "approve": _l("核准"),
    "agree": _l("同意"),
    "conditions": _l("附條件同意"),
    "object": _l("有意見"),
    "forward": _l("送複審"),
    "return": _l("退回區公所"),
    "follow": _l("依資格判定結果辦理"),
    "override": _l("改判"),
}
ACTIONS = {
    "case.start": _l("送出申請"),
    "task.claim": _l("領取工作"),
    "task.release": _l("退回工作匣"),
    "task.reassign": _l("改派"),
    "task.complete": _l("完成"),
    "case.cancel": _l("撤回申請"),
    "case.timers": _l("期限到期處理"),
}
PERMIT_STATUS = {
    "valid": _l("有效：目前在核准通行時段內"),
    "outside_hours": _l("通行證有效，但目前不在核准通行時段"),
    "not_yet_valid": _l("尚未生效"),
    "expired": _l("已逾有效期間"),
    "revoked": _l("已撤銷"),
}


def label(table: dict, code: str | None) -> str:
    if code is None:
        return ""
    return str(table.get(code, code))


def messages(errors: dict[str, list[str]]) -> dict[str, list[str]]:
    """Field errors raised below the web layer (marked ``N_`` there), in the request's language."""
    return {name: [gettext(m) for m in found] for name, found in errors.items()}
