"""Service task ``letter.issue``: the decision letter of a review, stored as a case document."""
from __future__ import annotations

from datetime import date

from engine import documents
from engine.calendar import TAIPEI
from engine.cases import HandlerContext
from engine.documents import Upload
from engine.masking import mask_address, mask_id
from engine.models import Agency

from .decision_letter import DecisionLetter, render_decision_letter

LEGAL_BASIS = "社會救助法第4條、第4條之1、第5條"
APPEAL = ("如不服本處分，得於收受本處分之次日起30日內，繕具訴願書經由原處分機關"
          "向臺南市政府提起訴願。")


def issue(ctx: HandlerContext) -> dict:
    data = ctx.task_data
    application = data["application"]
    applicant = application["applicant"]
    household = data.get("household") or {}
    section = ctx.session.get(Agency, data.get("district_section") or "")
    office = ctx.session.get(Agency, section.parent_code) if section and section.parent_code else None
    bureau = ctx.session.get(Agency, ctx.case.owner_agency)
    approved = data.get("outcome") == "approved"
    effective = data.get("effective_from") if approved else None
    letter = DecisionLetter(
        case_number=ctx.case.number,
        applicant_name=applicant["name"],
        applicant_id_masked=mask_id(applicant["id_no"]),
        address_masked=mask_address(household.get("address") or applicant.get("address")),
        category=application["category"],
        approved=approved,
        low_type=data.get("low_type") if approved else None,
        members=[{"name": m.get("name", ""), "relation": m.get("relation", "")}
                 for m in application.get("members") or []],
        reasons=list(data.get("letter_reasons") or []),
        effective_from=date.fromisoformat(effective) if effective else None,
        legal_basis=LEGAL_BASIS,
        district_office=office.name if office else "臺南市區公所",
        bureau=bureau.name if bureau else "臺南市政府社會局",
        issued_on=ctx.now.astimezone(TAIPEI).date(),
        appeal_note=APPEAL,
    )
    pdf = render_decision_letter(letter)
    doc = documents.store(ctx.session, Upload("letter", f"核定函-{ctx.case.number}.pdf", pdf),
                          ctx.case.applicant_id, case_id=ctx.case.id)
    return {"document_id": doc.id}
