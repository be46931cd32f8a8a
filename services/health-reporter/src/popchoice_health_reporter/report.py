"""The catalog health report as plain data: the summary, each finding and its samples."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeAlias


@dataclass(frozen=True, slots=True)
class MovieRef:
    id: int
    name: str
    year: int | None


@dataclass(frozen=True, slots=True)
class MovieSample:
    """A movie a finding lists, with the value the finding is about (``field`` names its column)."""

    id: int
    name: str
    year: int | None
    field: str
    value: object


@dataclass(frozen=True, slots=True)
class DuplicateGroup:
    """Movies sharing an identity that should be unique; ``key`` holds the shared columns and values."""

    key: dict[str, object]
    movies: tuple[MovieRef, ...]


Sample: TypeAlias = MovieSample | DuplicateGroup


@dataclass(frozen=True, slots=True)
class Defects:
    """What one check found: how many (movies, or groups for duplicates) and the first few of them."""

    count: int
    samples: tuple[Sample, ...]


@dataclass(frozen=True, slots=True)
class Finding:
    name: str
    description: str
    count: int
    samples: tuple[Sample, ...]


@dataclass(frozen=True, slots=True)
class CatalogSummary:
    total_movies: int
    embedded_movies: int
    movies_by_embedding_model: dict[str, int]
    #: Movies per movies.source (where each row came from), every known source listed, zeros included.
    movies_by_source: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class HealthReport:
    generated_at: datetime
    summary: CatalogSummary
    findings: tuple[Finding, ...]

    def finding(self, name: str) -> Finding:
        for finding in self.findings:
            if finding.name == name:
                return finding
        raise KeyError(name)

    def failing(self, names: tuple[str, ...]) -> tuple[str, ...]:
        """Those of the named findings that found something, in report order."""
        return tuple(finding.name for finding in self.findings if finding.name in names and finding.count > 0)
