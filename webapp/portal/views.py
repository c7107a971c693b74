"""The citizen portal: catalog, applications, my cases, corrections, renewals."""
from __future__ import annotations

from io import BytesIO

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import or_, select

from engine import agents, drafts, provenance, ratings
from engine.calendar import TAIPEI
from engine.masking import mask_name
from engine.db import reading, transaction, utcnow
from engine.errors import CaseConflict, Forbidden, InvalidInput
from engine.models import Case, Document, HumanTask, Notification, Permit, Service, User
from handlers import permits
from handlers.petitions import opinions
from handlers.mydata import jobs as mydata_jobs
from handlers.mydata.datasets import RESOURCES
from reports import casefile, worklists

from .. import choices, labels, select_locale, services, submissions
from ..auth import current_actor

bp = Blueprint("portal", __name__)


@bp.get("/")
def catalog():
    """The services that run here first, the assistant's chat box, then the city's whole catalog."""
    from ..assistant import answers as assistant_answers
    from ..assistant import catalog as service_catalog

    query = request.args.get("q", "").strip()[:200]
    category = request.args.get("category", "").strip()
    with reading(services.get().sessions) as s:
        stmt = select(Service).order_by(Service.category, Service.name)
        if query:
            like = f"%{query}%"
            stmt = stmt.where(or_(Service.name.like(like), Service.description.like(like),
                                  Service.category.like(like)))
        items = s.scalars(stmt).all()
        listing = service_catalog.browse(s, query=query, category=category,
                                         page=request.args.get("page", 1, type=int))
    return render_template("portal/catalog.html", services=items, query=query, category=category,
                           listing=listing, examples=assistant_answers.examples(),
                           category_label=service_catalog.category_label)


@bp.get("/services/<key>")
def service(key: str):
    principals = []
    with reading(services.get().sessions) as s:
        item = s.get(Service, key)
        if item is None:
            abort(404)
        if current_user.is_authenticated and current_user.kind == "citizen":
            principals = [(g.principal_id, mask_name(g.principal.display_name)) for g in
                          agents.acting_for(s, current_user.id, key, utcnow().astimezone(TAIPEI).date())]
    return render_template("portal/service.html", service=item, principals=principals)


@bp.post("/services/<key>/apply")
@login_required
def apply(key: str):
    actor = current_actor()
    principal_id = request.form.get("principal") or None
    svc = services.get()
    with transaction(svc.sessions) as s:
        service = s.get(Service, key)
        if service is None:
            abort(404)
        if actor.kind != "citizen" and not (service.open_to_staff and actor.is_staff and not principal_id):
            abort(403)
        if principal_id:
            agents.check_may_act(s, actor, principal_id, key, utcnow().astimezone(TAIPEI).date())
        prefill = _prefill(principal_id or actor.user_id, svc.engine.application_form(s, service))
        draft = drafts.create(s, actor, key, prefill, principal_id=principal_id)
        draft.sources = provenance.sources_of(prefill, "identity")
        draft.prefilled = provenance.leaf_values(prefill)
    return redirect(url_for("portal.draft", draft_id=draft.id))


def _prefill(user_id: str, form) -> dict:
    """What the applicant's signed-in identity already tells us, placed where the form asks for it."""
    fields = form.schema.get("properties", {})
    with reading(services.get().sessions) as s:
        record = s.get(User, user_id)
        if "recipient" in fields:
            person = {"name": record.display_name, "id_no": record.national_id,
                      "birth_date": record.birth_date, "phone": record.phone}
            return {"recipient": {k: v for k, v in person.items() if v}}
        applicant = {"name": record.display_name, "email": record.email, "phone": record.phone}
        if record.company_id:
            applicant.update(kind="company", id_no=record.company_id)
        elif record.national_id:
            applicant.update(kind="person", id_no=record.national_id,
                             contact_name=record.display_name)
    return {"applicant": {k: v for k, v in applicant.items() if v}}


@bp.route("/drafts/<draft_id>", methods=["GET", "POST"])
@login_required
def draft(draft_id: str):
    svc = services.get()
    actor = current_actor()
    if request.method == "POST" and (done := svc.engine.replayed(actor, draft_id)):
        return redirect(url_for("portal.case", case_id=done.case_id))
    with reading(svc.sessions) as s:
        record = drafts.get(s, actor, draft_id)
        service = s.get(Service, record.service_key)
        data = record.data
        has_id = bool(s.get(User, actor.user_id).national_id) and not record.principal_id
        principal = s.get(User, record.principal_id) if record.principal_id else None
        form = svc.engine.application_form(s, service)
    page = {"service": service, "form": form, "draft_id": draft_id,
            "mydata": _mydata_offer(service.key, has_id),
            "mydata_by_principal": _mydata_offer(service.key, bool(principal and principal.national_id)),
            "sources": _sources(form, record.sources or {}),
            "principal": mask_name(principal.display_name) if principal else None}
    if request.method == "GET":
        return render_template("portal/apply.html", data=data, errors={}, **page)
    data, uploads = submissions.read(form)
    if request.form.get("action") == "save":
        with transaction(svc.sessions) as s:
            drafts.save(s, actor, draft_id, data, form, uploads)
        flash(_("草稿已儲存，您可以稍後回到「我的案件」繼續填寫。"), "success")
        return redirect(url_for("portal.draft", draft_id=draft_id))
    related = record.related_case_id
    extra = mydata_jobs.draft_facts(svc.sessions, draft_id)
    if related:
        with reading(svc.sessions) as s:
            extra.update(_renewal_extra(s, related))
    try:
        result = svc.engine.start_case(
            actor, service.key, data, uploads=uploads, draft_id=draft_id,
            applicant_id=record.principal_id, channel="counter" if actor.is_staff else "online",
            provenance=provenance.of(data, record.sources or {}, record.prefilled or {},
                                     "staff" if actor.is_staff else "citizen"),
            related_case_id=related, extra_data=extra, locale=select_locale(),
            idempotency_key=draft_id)
    except InvalidInput as exc:
        acceptable = {k: u for k, u in uploads.items() if k not in exc.errors}
        with transaction(svc.sessions) as s:
            kept = drafts.save(s, actor, draft_id, data, form, acceptable)
            data = kept.data
        return render_template("portal/apply.html", data=data, errors=exc.errors, **page), 422
    mydata_jobs.link_to_case(svc.sessions, draft_id, result.case_id)
    flash(_("申請已送出，案件編號 %(number)s。", number=result.number), "success")
    return redirect(url_for("portal.case", case_id=result.case_id))


def _mydata_offer(service_key: str, has_national_id: bool) -> list[str] | None:
    """The datasets MyData can bring for this service, or None when it is not offered."""
    cfg = services.get().mydata
    resources = cfg.resources.get(service_key) if cfg else None
    if not resources or not has_national_id:
        return None
    return [RESOURCES.get(r, r) for r in resources]


def _sources(form, sources: dict[str, str]) -> list[tuple[str, list[str]]]:
    """Prefilled fields grouped by the dataset they came from."""
    grouped: dict[str, list[str]] = {}
    for name, resource_id in sources.items():
        if not resource_id.startswith("API."):
            continue
        grouped.setdefault(RESOURCES.get(resource_id, resource_id), []).append(
            submissions.field_label(form, name, select_locale()))
    return sorted(grouped.items())


def _renewal_extra(s, related_case_id: str) -> dict:
    permit = s.scalar(select(Permit).where(Permit.case_id == related_case_id))
    if permit is None:
        return {}
    old_case = s.get(Case, related_case_id)
    application = services.get().engine.task_data(s, old_case)["application"]
    return permits.renewal_data(permit, application)[1]


@bp.get("/my/cases")
@login_required
def my_cases():
    actor = current_actor()
    with reading(services.get().sessions) as s:
        cases = s.scalars(select(Case).where(
            or_(Case.applicant_id == actor.user_id, Case.agent_id == actor.user_id))
            .order_by(Case.opened_at.desc())).all()
        my_drafts = drafts.mine(s, actor)
        todo = worklists.applicant_tasks(s, actor)
        notices = s.scalars(select(Notification).where(Notification.user_id == actor.user_id)
                            .order_by(Notification.created_at.desc()).limit(10)).all()
        names = {k: v for k, v in s.execute(select(Service.key, Service.name)).all()}
    return render_template("portal/my_cases.html", cases=cases, drafts=my_drafts, todo=todo,
                           service_names=names, notices=notices, me=actor.user_id,
                           petitions_enabled=services.get().petitions is not None)


@bp.get("/my/cases/<case_id>")
@login_required
def case(case_id: str):
    svc = services.get()
    with reading(svc.sessions) as s:
        record = svc.engine.visible_case(s, current_actor(), case_id)
        context = _case_context(s, record)
    return _case_page(record, **context)


def _case_context(s, record: Case) -> dict:
    svc = services.get()
    return {
        "timeline": casefile.timeline(s, record),
        "stages": casefile.current_stages(s, record),
        "todo": casefile.open_applicant_tasks(s, record),
        "permit": s.scalar(select(Permit).where(Permit.case_id == record.id)),
        "data": svc.engine.task_data(s, record),
        "form": svc.engine.forms_of(s, record.definition_id).get(record.service.application_form),
        "files": s.execute(select(Document.id, Document.filename, Document.created_at)
                           .where(Document.case_id == record.id).order_by(Document.created_at)).all(),
        "rating": ratings.find(s, record.id),
        "opinions": opinions.for_case(s, record.id),
    }


def _case_page(record: Case, status: int = 200, *, answers: dict | None = None,
               errors: dict | None = None, opinion_text: str = "", opinion_errors: dict | None = None,
               **context):
    actor = current_actor()
    rate = ratings.can_rate(record, actor) and context["rating"] is None
    may_give = services.get().petitions is not None and opinions.may_give(record, actor)
    return render_template("portal/case.html", case=record, now=utcnow(), may_rate=rate,
                           may_give_opinion=may_give, opinion_text=opinion_text,
                           opinion_errors=opinion_errors or {},
                           rating_form=services.get().forms.get(ratings.FORM_KEY) if rate else None,
                           answers=answers or {}, rating_errors=errors or {}, **context), status


@bp.post("/my/cases/<case_id>/rating")
@login_required
def rate(case_id: str):
    """The applicant's one satisfaction rating of their closed case."""
    svc = services.get()
    actor = current_actor()
    form = svc.forms.get(ratings.FORM_KEY)
    answers = form.parse(request.form)
    with reading(svc.sessions) as s:
        svc.engine.visible_case(s, actor, case_id)
    try:
        with transaction(svc.sessions) as s:
            ratings.rate(s, actor, s.get(Case, case_id), form, answers, now=utcnow(), locale=select_locale())
    except Forbidden:
        abort(403)
    except CaseConflict as exc:
        flash(_("此案件已經評分過，感謝您的回饋。") if exc.message == ratings.ALREADY_RATED
              else _("案件結案後才能評分。"), "warning")
        return redirect(url_for("portal.case", case_id=case_id))
    except InvalidInput as exc:
        return _rating_errors(case_id, answers, labels.messages(exc.errors))
    flash(_("感謝您的評分！"), "success")
    return redirect(url_for("portal.case", case_id=case_id) + "#rating")


def _rating_errors(case_id: str, answers: dict, errors: dict):
    """The case page again, with the answers kept and each problem beside its field."""
    svc = services.get()
    with reading(svc.sessions) as s:
        record = svc.engine.visible_case(s, current_actor(), case_id)
        context = _case_context(s, record)
    return _case_page(record, 422, answers=answers, errors=errors, **context)


@bp.route("/my/tasks/<task_id>", methods=["GET", "POST"])
@login_required
def applicant_task(task_id: str):
    svc = services.get()
    actor = current_actor()
    with reading(svc.sessions) as s:
        task = s.get(HumanTask, task_id)
        if task is None or task.role != "applicant":
            abort(404)
        record = svc.engine.visible_case(s, actor, task.case_id)
        data = svc.engine.task_data(s, record).get("application", {}) if task.context.get("pauses_clock") else {}
        form = choices.resolve(svc.engine.forms_of(s, record.definition_id).get(task.form_key), s, record, utcnow())
    if task.status != "open":
        flash(_("此項目已完成。"), "info")
        return redirect(url_for("portal.case", case_id=record.id))
    errors = {}
    if request.method == "POST":
        submitted, uploads = submissions.read(form)
        try:
            svc.engine.complete_task(actor, task_id, submitted, uploads=uploads,
                                     expected_revision=request.form.get("revision", type=int),
                                     locale=select_locale())
        except InvalidInput as exc:
            errors, data = labels.messages(exc.errors), submitted
            if choices.refresh_needed(form, exc.errors):
                with reading(svc.sessions) as s:
                    form = choices.resolve(svc.engine.forms_of(s, record.definition_id).get(task.form_key), s, record, utcnow())
        else:
            flash(_("補正資料已送出，案件已送回承辦單位。") if task.context.get("pauses_clock")
                  else _("已送出。"), "success")
            return redirect(url_for("portal.case", case_id=record.id))
    return render_template("portal/applicant_task.html", task=task, case=record, form=form, data=data,
                           errors=errors, no_choices=choices.empty(form)), (422 if errors else 200)


@bp.post("/my/cases/<case_id>/renew")
@login_required
def renew(case_id: str):
    svc = services.get()
    actor = current_actor()
    with reading(svc.sessions) as s:
        record = svc.engine.visible_case(s, actor, case_id)
        permit = s.scalar(select(Permit).where(Permit.case_id == record.id))
        if permit is None or record.applicant_id != actor.user_id:
            abort(404)
        prefill, _extra = permits.renewal_data(permit, svc.engine.task_data(s, record)["application"])
    with transaction(svc.sessions) as s:
        draft = drafts.create(s, actor, record.service_key, prefill, related_case_id=record.id)
    flash(_("已依通行證 %(number)s 帶入原路線及車輛資料，請填寫新的通行期間並上傳文件。",
            number=permit.number), "info")
    return redirect(url_for("portal.draft", draft_id=draft.id))


@bp.get("/documents/<doc_id>")
@login_required
def document(doc_id: str):
    svc = services.get()
    actor = current_actor()
    with reading(svc.sessions) as s:
        doc = s.get(Document, doc_id)
        if doc is None:
            abort(404)
        if doc.case_id:
            svc.engine.visible_case(s, actor, doc.case_id)
        elif doc.owner_id != actor.user_id:
            abort(404)
        content, name, ctype = doc.content, doc.filename, doc.content_type
    return send_file(BytesIO(content), mimetype=ctype, download_name=name, as_attachment=True)


@bp.get("/permits/<number>.pdf")
@login_required
def permit_pdf(number: str):
    svc = services.get()
    actor = current_actor()
    with reading(svc.sessions) as s:
        permit = s.get(Permit, number)
        if permit is None:
            abort(404)
        svc.engine.visible_case(s, actor, permit.case_id)
        verify_url = current_app.config["PUBLIC_BASE_URL"].rstrip("/") + url_for(
            "verify.permit", token=permit.verify_token)
        pdf = permits.render(permit, verify_url)
    return send_file(BytesIO(pdf), mimetype="application/pdf", download_name=f"{number}.pdf",
                     as_attachment=True)


from . import diagram, petitions  # noqa: E402,F401 - registers their routes
