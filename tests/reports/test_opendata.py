"""Small-count protection of the open data: no withheld count is one subtraction away, in any grouping."""
from __future__ import annotations

import random
from itertools import combinations

import pytest

from reports.opendata import next_month, protect, running_month

K = 10
DIMENSIONS = ("service", "month", "district", "outcome")


def shown(table, by):
    return {tuple(row.key.values()): (None if row.withheld else row.values[0]) for row in table.rows(by)}


def truth(fine, by):
    positions = [DIMENSIONS.index(d) for d in DIMENSIONS if d in by]
    out: dict = {}
    for key, (n,) in fine.items():
        part = tuple(key[i] for i in positions)
        out[part] = out.get(part, 0) + n
    return out


def assert_protected(fine, table, k=K):
    """Every grouping against each one a dimension coarser (the grand total counts as known):
    shown counts are true and at least k, and no coarse cell with its line has exactly one unknown."""
    total = sum(n for (n,) in fine.values())
    for size in range(1, len(DIMENSIONS) + 1):
        for by in combinations(DIMENSIONS, size):
            cells, real = shown(table, by), truth(fine, by)
            assert cells.keys() == real.keys()
            for key, count in cells.items():
                assert count is None or (count == real[key] and count >= k), (by, key)
                assert real[key] >= k or count is None, (by, key)
            for position, _dimension in enumerate(by):
                coarse_by = by[:position] + by[position + 1:]
                coarse = shown(table, coarse_by) if coarse_by else {(): total}
                lines: dict = {}
                for key, count in cells.items():
                    lines.setdefault(key[:position] + key[position + 1:], []).append((key, count))
                for coarse_key, line in lines.items():
                    hidden = [real[key] for key, count in line if count is None]
                    unknowns = len(hidden) + (coarse[coarse_key] is None)
                    assert unknowns != 1, (by, position, coarse_key)
                    if hidden and coarse[coarse_key] is not None:
                        assert sum(hidden) >= k, (by, position, coarse_key)


def test_a_lone_small_cell_takes_the_next_smallest_with_it():
    fine = {("a", "2025-01", None, "approved"): (40,), ("b", "2025-01", None, "approved"): (12,),
            ("c", "2025-01", None, "approved"): (25,), ("d", "2025-01", None, "approved"): (3,)}
    table = protect(DIMENSIONS, fine, K)
    assert shown(table, ["service"]) == {("a",): 40, ("b",): None, ("c",): 25, ("d",): None}
    assert shown(table, ["month"]) == {("2025-01",): 80}
    assert_protected(fine, table)


def test_two_small_cells_that_add_up_to_less_than_k_are_not_enough():
    fine = {("a", "2025-01", None, "approved"): (40,), ("a", "2025-02", None, "approved"): (30,),
            ("a", "2025-03", None, "approved"): (1,), ("a", "2025-04", None, "approved"): (1,)}
    table = protect(DIMENSIONS, fine, K)
    # 70 + 1 + 1 shown as 72 would tell that both small months had exactly one
    assert shown(table, ["month"]) == {("2025-01",): 40, ("2025-02",): None, ("2025-03",): None,
                                       ("2025-04",): None}
    assert_protected(fine, table)


def test_a_cell_withheld_in_a_coarse_grouping_is_not_rebuilt_from_a_finer_one():
    fine = {("a", "2025-01", "東區", "approved"): (12,), ("a", "2025-01", "南區", "approved"): (13,),
            ("a", "2025-02", "東區", "approved"): (50,), ("a", "2025-03", "東區", "approved"): (2,)}
    table = protect(DIMENSIONS, fine, K)
    by_month = shown(table, ["month"])
    assert by_month[("2025-03",)] is None and by_month[("2025-01",)] is None  # the complement: 25 < 50
    by_district = shown(table, ["month", "district"])
    assert by_district[("2025-01", "南區")] is None or by_district[("2025-01", "東區")] is None
    assert_protected(fine, table)


@pytest.mark.parametrize("seed", range(12))
def test_random_tables_with_rare_combinations_are_protected_in_every_grouping(seed):
    rng = random.Random(seed)
    services, months = ["a", "b", "c", "d"], ["2025-01", "2025-02", "2025-03"]
    districts, outcomes = ["東區", "南區", "永康區", None], ["approved", "rejected", "open"]
    fine = {}
    for key in [(s, m, d, o) for s in services for m in months for d in districts for o in outcomes]:
        roll = rng.random()
        if roll < 0.45:
            continue
        fine[key] = (rng.randint(1, 4) if roll < 0.75 else rng.randint(10, 60),)
    table = protect(DIMENSIONS, fine, K)
    assert_protected(fine, table)
    assert any(row.withheld for row in table.rows(DIMENSIONS))


def test_filters_only_on_grouped_dimensions():
    table = protect(DIMENSIONS, {("a", "2025-01", None, "open"): (20,)}, K)
    assert [row.key for row in table.rows(["service"], {"service": lambda v: v == "a"})] == [{"service": "a"}]
    with pytest.raises(ValueError):
        table.rows(["service"], {"month": lambda v: True})


def test_months_are_taipei_months():
    from datetime import datetime, timezone

    assert running_month(datetime(2025, 12, 31, 16, 30, tzinfo=timezone.utc)) == "2026-01"
    assert next_month("2025-12") == "2026-01" and next_month("2025-01") == "2025-02"
