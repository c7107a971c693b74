"""The demo's approved permits go through the real flow and show on the heatmap."""
from __future__ import annotations

from sqlalchemy import func, select

from engine.db import reading
from engine.models import Case, Permit
from webapp import services
from webapp.demo import DISTRICTS, issue_permits


def test_demo_permits_are_approved_through_the_flow_and_on_the_heatmap(app, login):
    with app.app_context():
        svc = services.get()
    assert issue_permits(svc, 2) == 2
    assert issue_permits(svc, 2) == 0  # already there
    with reading(svc.sessions) as s:
        assert s.scalars(select(Case.outcome)).all() == ["approved", "approved"]
        for permit in s.scalars(select(Permit)):
            (segment,) = permit.route_segments
            assert segment["path"]["type"] == "LineString"
            assert len(segment["districts"]) >= 2 and set(segment["districts"]) <= set(DISTRICTS)
        assert s.scalar(select(func.count()).select_from(Permit)) == 2
    assert login("tb.clerk").get("/dashboard/heatmap.json").get_json()["total_permits"] == 2
