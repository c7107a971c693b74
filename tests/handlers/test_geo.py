"""Tainan's district polygons from the atlas, and the districts a drawn route crosses."""
from __future__ import annotations

import math

import pytest

from handlers import geo
from handlers.geo import PathError
from webapp.seed import TAINAN_DISTRICTS

CITY_HALL_YONGHUA = (120.185, 22.992)       # 臺南市政府永華市政中心
YONGKANG_OFFICE = (120.2571, 23.0263)       # 永康區公所
EAST = (120.235, 22.98)
KAOHSIUNG_HUNEI = (120.30, 22.85)           # inside the city's bounding box, outside the city
TAIPEI = (121.5645, 25.0330)


def line(*points) -> dict:
    return {"type": "LineString", "coordinates": [list(p) for p in points]}


# -- decoding ---------------------------------------------------------------

TOPOLOGY = {
    "type": "Topology",
    "transform": {"scale": [0.5, 0.25], "translate": [100.0, 20.0]},
    "arcs": [
        [[0, 0], [4, 0], [0, 4]],        # (100, 20) → (102, 20) → (102, 21)
        [[4, 4], [-4, 0], [0, -4]],      # (102, 21) → (100, 21) → (100, 20)
        [[10, 10], [2, 0], [0, 2], [-2, -2]],
    ],
    "objects": {"towns": {"type": "GeometryCollection", "geometries": [
        {"type": "Polygon", "arcs": [[0, 1]],
         "properties": {"COUNTYNAME": "台南市", "TOWNNAME": "東區", "TOWNCODE": "67000320"}},
        {"type": "MultiPolygon", "arcs": [[[~1, ~0]], [[2]]],
         "properties": {"COUNTYNAME": "台南市", "TOWNNAME": "永康區", "TOWNCODE": "67000310"}},
        {"type": "Polygon", "arcs": [[2]],
         "properties": {"COUNTYNAME": "高雄市", "TOWNNAME": "湖內區", "TOWNCODE": "64000280"}},
    ]}},
}


def test_arcs_are_delta_decoded_and_scaled():
    arcs = geo.decode_arcs(TOPOLOGY)
    assert arcs[0] == [(100.0, 20.0), (102.0, 20.0), (102.0, 21.0)]
    assert arcs[1] == [(102.0, 21.0), (100.0, 21.0), (100.0, 20.0)]


def test_rings_join_arcs_and_walk_negative_indexes_backwards():
    arcs = geo.decode_arcs(TOPOLOGY)
    assert geo.ring_of([0, 1], arcs) == [(100.0, 20.0), (102.0, 20.0), (102.0, 21.0), (100.0, 21.0), (100.0, 20.0)]
    assert geo.ring_of([~1, ~0], arcs) == [(100.0, 20.0), (100.0, 21.0), (102.0, 21.0), (102.0, 20.0), (100.0, 20.0)]


def test_only_the_city_is_kept_in_town_code_order_with_official_names():
    districts = geo.city_districts(TOPOLOGY)
    assert list(districts) == ["永康區", "東區"]
    assert len(districts["永康區"]) == 2, "a MultiPolygon is a list of polygons"
    assert len(districts["東區"]) == 1 and len(districts["東區"][0]) == 1


def test_the_atlas_has_the_37_districts_in_the_citys_order():
    assert geo.district_names() == TAINAN_DISTRICTS
    polygons = geo.district_polygons()
    assert list(polygons) == TAINAN_DISTRICTS
    for name, shapes in polygons.items():
        assert shapes, name
        for rings in shapes:
            outer = rings[0]
            assert len(outer) >= 4 and outer[0] == outer[-1], name
            assert all(120 < lon < 121 and 22.8 < lat < 23.5 for lon, lat in outer), name


def test_district_polygons_are_a_copy_callers_may_change():
    geo.district_polygons()["東區"].clear()
    assert geo.district_polygons()["東區"]


# -- locating points --------------------------------------------------------

@pytest.mark.parametrize(("point", "district"), [
    (CITY_HALL_YONGHUA, "安平區"),
    (YONGKANG_OFFICE, "永康區"),
    (EAST, "東區"),
    ((120.2027, 22.9975), "中西區"),     # 赤崁樓
    ((120.3166, 23.3094), "新營區"),     # 新營區公所
    (KAOHSIUNG_HUNEI, None),
    ((120.05, 22.95), None),             # Taiwan Strait
    (TAIPEI, None),
])
def test_district_of_known_places(point, district):
    assert geo.district_of(*point) == district


# -- routes -----------------------------------------------------------------

def test_a_route_from_yongkang_to_the_east_district_crosses_both():
    assert geo.districts_crossed(line(YONGKANG_OFFICE, EAST)) == ["永康區", "東區"]


def test_districts_between_two_vertices_are_caught_and_listed_in_the_citys_order():
    crossed = geo.districts_crossed(line(YONGKANG_OFFICE, CITY_HALL_YONGHUA))
    assert crossed == ["永康區", "北區", "安平區", "中西區"]
    assert geo.district_of(*YONGKANG_OFFICE) == "永康區" and geo.district_of(*CITY_HALL_YONGHUA) == "安平區"


def test_a_route_inside_one_district_and_a_repeated_point():
    assert geo.districts_crossed(line(YONGKANG_OFFICE, (120.2580, 23.0270), (120.2580, 23.0270))) == ["永康區"]


@pytest.mark.parametrize("end", [KAOHSIUNG_HUNEI, TAIPEI, (120.05, 22.95)])
def test_a_route_that_leaves_the_city_is_refused(end):
    with pytest.raises(PathError) as refused:
        geo.districts_crossed(line(YONGKANG_OFFICE, end))
    assert refused.value.message == "路線不在臺南市範圍內"
    assert refused.value.text("en") == "The route goes outside Tainan City"


@pytest.mark.parametrize(("path", "message"), [
    (None, "請在地圖上畫出路線，或改為手動選擇行經行政區"),
    ({"type": "Point", "coordinates": list(YONGKANG_OFFICE)}, "請在地圖上畫出路線，或改為手動選擇行經行政區"),
    (line(YONGKANG_OFFICE), "請在地圖上畫出路線，或改為手動選擇行經行政區"),
    ({"type": "LineString", "coordinates": "120,23 120.1,23"}, "請在地圖上畫出路線，或改為手動選擇行經行政區"),
    (line(YONGKANG_OFFICE, ("120.2", "22.98")), "路線座標格式不正確"),
    (line(YONGKANG_OFFICE, (120.2, math.nan)), "路線座標格式不正確"),
    (line(YONGKANG_OFFICE, (math.inf, 22.98)), "路線座標格式不正確"),
    (line(YONGKANG_OFFICE, (True, 22.98)), "路線座標格式不正確"),
    (line(YONGKANG_OFFICE, (120.2, 22.98, 15.0)), "路線座標格式不正確"),
    (line(*[(120.25 + i * 1e-5, 23.02) for i in range(501)]), "路線最多 500 個點，請簡化路線"),
])
def test_unusable_paths_are_refused_with_the_reason(path, message):
    with pytest.raises(PathError) as refused:
        geo.districts_crossed(path)
    assert refused.value.message == message


def test_the_longest_route_allowed_is_accepted():
    points = [(120.25 + i * 1e-5, 23.02) for i in range(500)]
    assert geo.districts_crossed(line(*points)) == ["永康區"]
