"""Request and response shapes for the OpenAPI document."""
from __future__ import annotations

from apiflask import Schema
from apiflask.fields import Boolean, DateTime, Dict, Integer, List, Nested, String


class ServiceOut(Schema):
    key = String()
    name = String()
    name_en = String()
    category = String()
    description = String()
    owner_agency = String()
    statutory_days = Integer()
    online = Boolean()


class TaskOut(Schema):
    id = String()
    case_id = String()
    case_number = String()
    name = String()
    role = String()
    agency_code = String(allow_none=True)
    status = String()
    assignee_id = String(allow_none=True)
    form_key = String(allow_none=True)
    created_at = DateTime()
    due_at = DateTime(allow_none=True)
    completed_at = DateTime(allow_none=True)
    result = Dict(allow_none=True)


class CaseSummaryOut(Schema):
    """A case as the list of cases shows it."""

    id = String()
    number = String()
    service_key = String()
    status = String()
    stage = String()
    outcome = String(allow_none=True)
    revision = Integer()
    opened_at = DateTime()
    due_at = DateTime(allow_none=True)
    closed_at = DateTime(allow_none=True)
    fields = Dict()


class CaseOut(CaseSummaryOut):
    """One case with its tasks and, once issued, its permit."""

    tasks = List(Nested(TaskOut))
    permit_number = String(allow_none=True)


class CasesOut(Schema):
    items = List(Nested(CaseSummaryOut))


class ServicesOut(Schema):
    items = List(Nested(ServiceOut))


class TasksOut(Schema):
    items = List(Nested(TaskOut))


class StartCaseIn(Schema):
    service = String(required=True)
    application = Dict(required=True)


class RevisionIn(Schema):
    revision = Integer(load_default=None)


class CompleteTaskIn(Schema):
    data = Dict(required=True)
    revision = Integer(load_default=None)


class CommandOut(Schema):
    case_id = String()
    number = String()
    revision = Integer()
    status = String()


class DocumentOut(Schema):
    document_id = String()
    filename = String()
    content_type = String()
    size = Integer()


class VerificationOut(Schema):
    status = String()
    valid_now = Boolean()
    number = String()
    plates = List(String())
    vehicle_types = List(String())
    route_segments = List(Dict())
    valid_from = String()
    valid_to = String()
    time_windows = List(Dict())
    checked_at = DateTime()
