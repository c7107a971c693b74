"""The member's notice settings (會員訂閱) and the unsubscribe link every mail carries."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from engine.db import reading, transaction, utcnow
from engine.models import User
from handlers import subscriptions

from .. import services
from ..auth import current_actor
from .views import bp


def _key() -> bytes:
    return services.get().engine.settings["unsubscribe_key"]


def topic_label(topic: str) -> str:
    """A topic in the reader's language: its own label, or the service category it follows."""
    known = subscriptions.TOPICS.get(topic)
    if known is not None:
        return _(known.label)
    return _("「%(category)s」類服務的最新消息", category=topic.removeprefix(subscriptions.CATEGORY_PREFIX))


@bp.route("/my/notices", methods=["GET", "POST"])
@login_required
def notice_settings():
    svc = services.get()
    actor = current_actor()
    with reading(svc.sessions) as s:
        topics = subscriptions.topics_for(s, s.get(User, actor.user_id))
    if request.method == "POST":
        chosen = set(request.form.getlist("on"))
        with transaction(svc.sessions) as s:
            now = utcnow()
            for (topic, channel), active in subscriptions.choices(s, actor.user_id, topics).items():
                wanted = f"{topic}|{channel}" in chosen
                if wanted != active:
                    subscriptions.choose(s, actor.user_id, topic, channel, wanted, now)
        flash(_("已儲存通知設定。"), "success")
        return redirect(url_for("accounts.notice_settings"))
    with reading(svc.sessions) as s:
        current = subscriptions.choices(s, actor.user_id, topics)
    return render_template("accounts/notices.html", topics=[(t, topic_label(t)) for t in topics],
                           current=current, channels=subscriptions.CHANNELS)


@bp.route("/unsubscribe/<token>", methods=["GET", "POST"])
def unsubscribe(token: str):
    """Works without signing in: the signed link is the authority, for its one topic by e-mail."""
    found = subscriptions.read_unsubscribe_token(_key(), token)
    if found is None:
        abort(404)
    user_id, topic = found
    svc = services.get()
    done = False
    if request.method == "POST":
        with transaction(svc.sessions) as s:
            if s.get(User, user_id) is None:
                abort(404)
            subscriptions.choose(s, user_id, topic, "email", False, utcnow())
        done = True
    return render_template("accounts/unsubscribe.html", topic=topic_label(topic), done=done)
