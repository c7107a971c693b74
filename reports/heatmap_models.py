"""The derived rows behind the permit heatmap: one per permit, map cell and slot."""
from __future__ import annotations

from datetime import date

from sqlalchemy import (
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import Base


class RouteCell(Base):
    """A map cell an issued permit's route passes through, with what the heatmap filters on.

    Written by ``reports.heatmap.record_permit`` in the transaction that issues the
    permit, and recounted by ``reports.heatmap.rebuild``. Slot 0 stands for the
    whole permit (every weekday and minute any of its daily windows covers); a
    permit with several windows also has one row per window (slots 1…), which the
    time-of-day filter uses.

    The primary key puts slot 0 first and then orders by cell, and on SQLite the
    table is stored in that order (without rowid): the usual count reads one
    contiguous run of rows, already grouped by cell. ``first_cell`` marks one cell
    per permit, so the permits matching the filters are counted from a small
    partial index.
    """

    __tablename__ = "route_cells"
    __table_args__ = (
        PrimaryKeyConstraint("slot", "cell", "permit_number"),
        Index("ix_route_cells_permit", "permit_number"),
        Index("ix_route_cells_district", "district"),
        Index("ix_route_cells_first", "slot", "revoked", "valid_to", "valid_from", "weekdays", "vehicle_types",
              "windows", "start_minute", "end_minute", "first_cell",
              sqlite_where=text("first_cell = 1"), postgresql_where=text("first_cell")),
        {"sqlite_with_rowid": False},
    )

    slot: Mapped[int] = mapped_column(SmallInteger)
    cell: Mapped[str] = mapped_column(String(16))               # "lat_index:lon_index"
    permit_number: Mapped[str] = mapped_column(String(32), ForeignKey("permits.number", ondelete="CASCADE"))
    windows: Mapped[int] = mapped_column(SmallInteger)          # how many daily windows the permit has
    first_cell: Mapped[bool] = mapped_column(Boolean)           # the first cell of its route: counts the permit
    lat: Mapped[float] = mapped_column(Float)                   # the cell's centre
    lon: Mapped[float] = mapped_column(Float)
    district: Mapped[str | None] = mapped_column(String(10))
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date] = mapped_column(Date)
    weekdays: Mapped[int] = mapped_column(SmallInteger)         # bit 0 = Monday … bit 6 = Sunday
    start_minute: Mapped[int] = mapped_column(SmallInteger)     # minute of the day, inclusive
    end_minute: Mapped[int] = mapped_column(SmallInteger)       # inclusive; 23:59 is 1439
    vehicle_types: Mapped[int] = mapped_column(Integer)         # bits in reports.heatmap.VEHICLE_TYPES order
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
