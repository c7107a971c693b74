"""Handlers that tell people things from inside a diagram."""
from __future__ import annotations

from engine import agents
from engine.cases import HandlerContext


def notify_applicant(ctx: HandlerContext, message: str) -> dict:
    """Service task ``notify.applicant``: an in-app notice to the applicant (and their agent)."""
    link = f"/my/cases/{ctx.case.id}"
    agents.notify(ctx.session, ctx.case.applicant_id, f"{ctx.case.number}：{message}", link)
    if ctx.case.agent_id:
        agents.notify(ctx.session, ctx.case.agent_id, f"{ctx.case.number}：{message}", link)
    return {"sent": True}
