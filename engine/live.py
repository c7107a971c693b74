"""What this process last knew of recently used cases, valid for one revision each.

A command on a case this process changed last can start from the snapshot
instead of reading the case: the workflow object (deserialising is the largest
part of SpiffWorkflow's cost per command) and the open task rows its own writes
produced. Nothing here is trusted on its own: the command's write is guarded by
the snapshot's revision, so if any other thread or process changed the case in
between, the guard fails, the transaction is rolled back and the command runs
again from the database (``StaleSnapshot``).

A command takes its case's snapshot out, so no other thread sees the workflow
while it changes, and a new snapshot goes in only after the commit.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from .errors import CaseConflict
from .store import WriteBatch

CASE_KEYS = ("id", "number", "service_key", "owner_agency", "applicant_id", "agent_id", "revision",
             "definition_id", "status", "search_fields", "due_at")
TASK_KEYS = ("task_id", "role", "agency_code", "task_status", "assignee_id", "form_key", "spec_name",
             "task_name", "task_created_at")


class StaleSnapshot(CaseConflict):
    """The snapshot a command started from was out of date; run it again from the database."""


@dataclass
class Snapshot:
    case: dict                                   # CASE_KEYS
    tasks: dict[str, dict] = field(default_factory=dict)   # open tasks by id, TASK_KEYS
    workflow: Any = None

    def row(self, task_id: str) -> dict:
        """The task joined with its case, shaped as ``CaseStore.read_task`` returns it."""
        return {**self.case, **self.tasks[task_id]}

    def after(self, batch: WriteBatch, workflow: Any) -> "Snapshot":
        """The snapshot once ``batch`` committed."""
        case = dict(self.case)
        case["revision"] = batch.case["revision"]
        if not batch.bump_only:
            case["status"] = batch.case["status"]
            case["due_at"] = batch.case["due_at"]
        tasks = {k: dict(v) for k, v in self.tasks.items()}
        if batch.task_update is not None:
            statement, params = batch.task_update
            if statement == "complete_task":
                tasks.pop(params["b_id"], None)
            elif params["b_id"] in tasks:
                tasks[params["b_id"]]["assignee_id"] = params["assignee_id"]
        for task_id in batch.cancelled:
            tasks.pop(task_id, None)
        for new in batch.new_tasks:
            tasks[new["id"]] = task_row(new)
        return Snapshot(case, tasks, workflow)


def task_row(written: dict) -> dict:
    """A human-task row as written (``CaseEngine._human_task_row``), shaped as read."""
    return {"task_id": written["id"], "role": written["role"], "agency_code": written["agency_code"],
            "task_status": written["status"], "assignee_id": written["assignee_id"],
            "form_key": written["form_key"], "spec_name": written["spec_name"],
            "task_name": written["name"], "task_created_at": written["created_at"]}


def from_row(row: dict) -> Snapshot:
    """A snapshot of what one read (``CaseStore.read_task``) showed."""
    return Snapshot({k: row[k] for k in CASE_KEYS}, {row["task_id"]: {k: row[k] for k in TASK_KEYS}})


class LiveCases:
    def __init__(self, capacity: int = 512) -> None:
        self.capacity = capacity
        self._items: OrderedDict[str, Snapshot] = OrderedDict()
        self._case_of_task: dict[str, str] = {}
        self._lock = threading.Lock()

    def take_task(self, task_id: str) -> Snapshot | None:
        """The snapshot of the case that holds ``task_id`` open, taken out."""
        with self._lock:
            case_id = self._case_of_task.get(task_id)
            return self._pop(case_id) if case_id else None

    def take_workflow(self, case_id: str, revision: int):
        with self._lock:
            kept = self._pop(case_id)
        return kept.workflow if kept is not None and kept.case["revision"] == revision else None

    def forget(self, case_id: str) -> None:
        """Drop what is kept of a case changed outside the command path (a migration, say)."""
        with self._lock:
            self._pop(case_id)

    def keep(self, snapshot: Snapshot) -> None:
        if snapshot.case["status"] != "open":
            return
        case_id = snapshot.case["id"]
        with self._lock:
            self._pop(case_id)
            self._items[case_id] = snapshot
            self._case_of_task.update(dict.fromkeys(snapshot.tasks, case_id))
            while len(self._items) > self.capacity:
                self._pop(next(iter(self._items)))

    def _pop(self, case_id: str) -> Snapshot | None:
        snapshot = self._items.pop(case_id, None)
        if snapshot is not None:
            for task_id in snapshot.tasks:
                self._case_of_task.pop(task_id, None)
        return snapshot
