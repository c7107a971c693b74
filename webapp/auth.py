"""Sign-in, the current actor, and bearer tokens for systems."""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from functools import wraps

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError
from flask import abort, g, request
from flask_login import UserMixin, current_user
from sqlalchemy import select

from engine.access import Actor
from engine.db import reading
from engine.models import User

from . import services
from .extensions import login_manager

def _password_hasher() -> PasswordHasher:
    """argon2id with the library's defaults (RFC 9106 low-memory profile).

    ``ONESTOP_PASSWORD_PROFILE=test`` selects argon2's cheapest parameters, so a
    test suite that signs in thousands of times stays fast; the algorithm, and so
    the code path, stays the same. Hashes carry their parameters, so production
    verifies any hash it stored.
    """
    if os.environ.get("ONESTOP_PASSWORD_PROFILE") == "test":
        return PasswordHasher.from_parameters(profiles.CHEAPEST)
    return PasswordHasher()


_hasher = _password_hasher()
_DUMMY_HASH = _hasher.hash("not a password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password(user: User | None, password: str) -> bool:
    """Constant work whether or not the user exists, so timing reveals nothing."""
    try:
        return _hasher.verify(user.password_hash if user and user.password_hash else _DUMMY_HASH,
                              password) and user is not None
    except (VerificationError, InvalidHashError):
        return False


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass
class SessionUser(UserMixin):
    """The signed-in user as a request sees them (detached from any database session)."""

    id: str
    username: str
    display_name: str
    kind: str
    roles: tuple[str, ...]
    agency_code: str | None
    agency_name: str | None
    active: bool

    @property
    def is_active(self) -> bool:
        return self.active

    @classmethod
    def from_user(cls, user: User) -> "SessionUser":
        return cls(user.id, user.username, user.display_name, user.kind, tuple(user.roles or ()),
                   user.agency_code, user.agency.name if user.agency else None, user.active)

    def has_role(self, role: str) -> bool:
        return role in self.roles or "admin" in self.roles

    @property
    def is_staff(self) -> bool:
        return self.kind == "staff"


@login_manager.user_loader
def _load_user(user_id: str) -> SessionUser | None:
    with reading(services.get().sessions) as s:
        user = s.get(User, user_id)
        return SessionUser.from_user(user) if user and user.active else None


@login_manager.request_loader
def _load_from_token(req) -> SessionUser | None:
    header = req.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return None
    with reading(services.get().sessions) as s:
        user = s.scalar(select(User).where(User.api_token_hash == token_hash(header[7:].strip())))
        if user is None or not user.active:
            return None
        g.bearer_auth = True
        return SessionUser.from_user(user)


def current_actor() -> Actor:
    if not current_user.is_authenticated:
        abort(401)
    return Actor(
        user_id=current_user.id,
        kind=current_user.kind,
        roles=frozenset(current_user.roles),
        agency_code=current_user.agency_code,
        ip=request.remote_addr,
        display_name=current_user.display_name,
    )


def staff_required(*roles: str):
    """Signed-in staff with any of ``roles`` (or any staff when none are given)."""

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if not current_user.is_staff and "admin" not in current_user.roles:
                abort(403)
            if roles and not any(current_user.has_role(r) for r in roles):
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator
