"""Demo activity for ``make run``: approved large-vehicle permits with routes drawn on the map.

Each permit goes through the engine as the demo users would take it (applied
for by ``company``, accepted by 交通局, co-signed by the police sub-bureaus of
its districts, approved), so the heatmap, the reports and 我的案件 show
something real. Routes stay inside the districts whose sub-bureaus have demo
accounts, so every co-signing task has someone to answer it.
"""
from __future__ import annotations

import json
import random
from collections.abc import Callable
from datetime import date, timedelta

from sqlalchemy import func, select
from werkzeug.datastructures import MultiDict

from engine.access import Actor
from engine.db import reading
from engine.documents import Upload
from engine.models import HumanTask, Permit, Service, User
from handlers import geo

from .services import Services

SERVICE = "large_vehicle_permit"
POLICE = {"TNPD-YK": "police.yk", "TNPD-SH": "police.sh", "TNPD-1": "police.e1"}
DISTRICTS = ("永康區", "東區", "新市區", "善化區", "安定區", "大內區")
PLACES = {"永康區": "永康工業區", "東區": "東區崇德路工地", "新市區": "南部科學園區", "善化區": "善化啤酒廠",
          "安定區": "安定工業區", "大內區": "大內砂石場"}
VEHICLE_TYPES = ("大貨車", "聯結車", "曳引車", "特種車")
ROADS = ("中正北路、中山路", "南科北路、南科三路", "台1線、中華路", "國道1號、永康交流道", "台19甲線", "東門路、崇德路")
WINDOWS = ((("09:00", "16:00"),), (("22:00", "23:59"), ("00:00", "05:00")), (("00:00", "23:59"),),
           (("10:00", "12:00"), ("14:00", "16:00")))
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
ANSWERS = {"intake": {"decision": "cosign"}, "cosign": {"opinion": "agree"},
           "decide": {"decision": "approve", "conditions": "應依核准路線及時段行駛。"}}


def issue_permits(svc: Services, count: int = 24, *, seed: int = 7,
                  progress: Callable[[int], None] = lambda issued: None) -> int:
    """Approve demo permits until ``count`` exist; returns how many were issued now."""
    with reading(svc.sessions) as s:
        existing = s.scalar(select(func.count()).select_from(Permit))
        actors = {u.username: Actor.from_user(u) for u in s.scalars(
            select(User).where(User.username.in_(["company", "tb.clerk", *POLICE.values()])))}
        form = svc.engine.application_form(s, s.get(Service, SERVICE))
    rng = random.Random(seed + existing)
    issued = 0
    for n in range(existing, count):
        application = form.parse(MultiDict(_fields(rng, n)))
        application["attachments"] = {
            "contract": {"filename": "contract.pdf", "content_type": "application/pdf", "size": len(PDF),
                         "upload": "attachments-contract", "document_id": None},
            "route_map": {"filename": "route.png", "content_type": "image/png", "size": len(PNG),
                          "upload": "attachments-route_map", "document_id": None}}
        done = svc.engine.start_case(actors["company"], SERVICE, application, uploads={
            "attachments-contract": Upload("attachments-contract", "contract.pdf", PDF),
            "attachments-route_map": Upload("attachments-route_map", "route.png", PNG)})
        _work_through(svc, done.case_id, actors)
        issued += 1
        progress(issued)
    return issued


def _work_through(svc: Services, case_id: str, actors: dict[str, Actor]) -> None:
    """Answer every open staff task of the case until none is left."""
    while True:
        with reading(svc.sessions) as s:
            tasks = s.execute(select(HumanTask.id, HumanTask.spec_name, HumanTask.agency_code)
                              .where(HumanTask.case_id == case_id, HumanTask.status == "open")).all()
        if not tasks:
            return
        for task in tasks:
            actor = actors[POLICE.get(task.agency_code, "tb.clerk")]
            svc.engine.claim(actor, task.id)
            svc.engine.complete_task(actor, task.id, dict(ANSWERS[task.spec_name]))


def _fields(rng: random.Random, n: int) -> list[tuple[str, str]]:
    start = date.today() + timedelta(days=rng.randint(-20, 20))
    origin, destination, path = _route(rng)
    fields = [
        ("applicant-kind", "company"), ("applicant-id_no", "53212539"), ("applicant-name", "南瀛營造股份有限公司"),
        ("applicant-responsible_person", "陳大文"), ("applicant-contact_name", "林小姐"),
        ("applicant-phone", "06-2991111"), ("applicant-email", "contact@example.tw"),
        ("purpose-category", "construction"), ("purpose-project_name", f"{destination}工程（第 {n + 1} 期）"),
        ("purpose-site_address", f"臺南市{destination}{PLACES[destination]}"),
        ("route_segments-0-from", PLACES[origin]), ("route_segments-0-to", PLACES[destination]),
        ("route_segments-0-roads", rng.choice(ROADS)), ("route_segments-0-path", path),
        ("period-start_date", start.isoformat()),
        ("period-end_date", (start + timedelta(days=rng.randint(20, 90))).isoformat()),
    ]
    for i in range(rng.randint(1, 3)):
        fields += [(f"vehicles-{i}-plate", f"KL{chr(65 + i)}-{1000 + n:04d}"),
                   (f"vehicles-{i}-type", rng.choice(VEHICLE_TYPES)),
                   (f"vehicles-{i}-gross_weight", str(rng.choice((25, 35, 42.5)))),
                   (f"vehicles-{i}-licence_expiry", (start + timedelta(days=400)).isoformat())]
    for i, (begin, end) in enumerate(rng.choice(WINDOWS)):
        fields += [(f"time_windows-{i}-start", begin), (f"time_windows-{i}-end", end)]
    return fields


def _route(rng: random.Random) -> tuple[str, str, str]:
    """Two districts and a wandering path between them that crosses no district outside DISTRICTS."""
    while True:
        origin, destination = rng.sample(DISTRICTS, 2)
        points = [_point_in(rng, origin), _point_in(rng, destination)]
        (ax, ay), (bx, by) = points
        middle = [(ax + (bx - ax) * t + rng.gauss(0, 0.004), ay + (by - ay) * t + rng.gauss(0, 0.004))
                  for t in (0.25, 0.5, 0.75)]
        coordinates = [[round(x, 6), round(y, 6)] for x, y in (points[0], *middle, points[1])]
        path = {"type": "LineString", "coordinates": coordinates}
        try:
            crossed = geo.districts_crossed(path)
        except geo.PathError:
            continue
        if set(crossed) <= set(DISTRICTS):
            return origin, destination, json.dumps(path)


def _point_in(rng: random.Random, district: str) -> tuple[float, float]:
    rings = [ring for polygon in geo.district_polygons()[district] for ring in polygon[:1]]
    xs = [x for ring in rings for x, _ in ring]
    ys = [y for ring in rings for _, y in ring]
    while True:
        x, y = rng.uniform(min(xs), max(xs)), rng.uniform(min(ys), max(ys))
        if geo.district_of(x, y) == district:
            return x, y
