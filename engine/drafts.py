"""Applications being written: saved as they are, validated only on submission."""
from __future__ import annotations

import copy
from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import documents
from .access import Actor
from .db import utcnow
from .documents import Upload
from .errors import NotFound
from .forms import Form
from .models import Document, Draft, Service


def create(s: Session, actor: Actor, service_key: str, data: dict | None = None,
           related_case_id: str | None = None, principal_id: str | None = None) -> Draft:
    if s.get(Service, service_key) is None:
        raise NotFound("no such service")
    draft = Draft(user_id=actor.user_id, service_key=service_key, data=data or {},
                  related_case_id=related_case_id, principal_id=principal_id)
    s.add(draft)
    s.flush()
    return draft


def get(s: Session, actor: Actor, draft_id: str) -> Draft:
    draft = s.get(Draft, draft_id)
    if draft is None or draft.user_id != actor.user_id:
        raise NotFound("no such draft")
    return draft


def for_principal(s: Session, actor: Actor, draft_id: str) -> Draft:
    """A draft an agent is filling in ``actor``'s name (the principal may consent to MyData for it)."""
    draft = s.get(Draft, draft_id)
    if draft is None or draft.principal_id != actor.user_id:
        raise NotFound("no such draft")
    return draft


def mine(s: Session, actor: Actor) -> list[Draft]:
    return list(s.scalars(select(Draft).where(Draft.user_id == actor.user_id)
                          .order_by(Draft.updated_at.desc())))


def save(s: Session, actor: Actor, draft_id: str, data: dict, form: Form,
         uploads: Mapping[str, Upload]) -> Draft:
    """Keep what was typed and store new files; files already kept are referenced by id."""
    draft = get(s, actor, draft_id)
    data = copy.deepcopy(data)
    for path, descriptor in documents.attachment_fields(form.schema, data):
        if descriptor.get("upload") and descriptor["upload"] in uploads:
            doc = documents.store(s, uploads[descriptor["upload"]], actor.user_id, draft_id=draft.id)
        else:
            doc = s.get(Document, descriptor.get("document_id") or "")
            if doc is None or doc.owner_id != actor.user_id or doc.case_id is not None:
                documents.set_path(data, path, None)
                continue
        documents.set_path(data, path, documents.descriptor(doc))
    draft.data = data
    draft.updated_at = utcnow()
    return draft
