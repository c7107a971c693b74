"""Scoring the assistant against questions whose right services are known (tests/assistant_eval.json)."""
from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Question:
    q: str
    expect: tuple[str, ...]


@dataclass
class Evaluation:
    total: int = 0
    top1: int = 0
    top3: int = 0
    times_ms: list[float] = field(default_factory=list)
    misses: list[tuple[str, list[str]]] = field(default_factory=list)

    @property
    def top1_rate(self) -> float:
        return self.top1 / self.total if self.total else 0.0

    @property
    def top3_rate(self) -> float:
        return self.top3 / self.total if self.total else 0.0

    @property
    def median_ms(self) -> float:
        return statistics.median(self.times_ms) if self.times_ms else 0.0

    def summary(self) -> str:
        return (f"assistant: {self.total} questions, top-1 {self.top1_rate:.2f}, top-3 {self.top3_rate:.2f}, "
                f"median {self.median_ms:.1f} ms")


def load(path: Path) -> list[Question]:
    return [Question(row["q"], tuple(row["expect"])) for row in json.loads(path.read_text(encoding="utf-8"))]


def evaluate(ask: Callable[[str], Sequence[str]], questions: Sequence[Question]) -> Evaluation:
    """Asks every question; ``ask`` returns the keys of the services offered, best first (none: no answer)."""
    result = Evaluation()
    for question in questions:
        started = time.perf_counter()
        keys = list(ask(question.q))
        result.times_ms.append((time.perf_counter() - started) * 1000)
        result.total += 1
        result.top1 += bool(keys) and keys[0] in question.expect
        hit = any(k in question.expect for k in keys[:3])
        result.top3 += hit
        if not hit:
            result.misses.append((question.q, keys[:3]))
    return result
