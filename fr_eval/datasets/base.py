"""The structure every dataset yields: subjects -> reference and probe samples."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

#: File extensions read as images by the folder-style loaders.
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".pgm", ".tif", ".tiff", ".webp",
                    ".gif")


@dataclass(frozen=True)
class Sample:
    """One stored image with its role in the protocol."""

    path: Path  # absolute path
    rel: str  # path relative to the dataset root (POSIX separators); mirrors precomputed dirs
    subject: str
    role: str  # "reference" or "probe"
    meta: tuple = ()  # extra (key, value) pairs, e.g. session, condition

    @property
    def id(self) -> str:
        return self.rel


@dataclass
class Dataset:
    name: str
    root: Path
    references: list[Sample]
    probes: list[Sample]
    #: subjects left out of the protocol, with the reason and how many images they had
    excluded: list[dict] = field(default_factory=list)
    #: files seen but not used (wrong extension, ...), with the reason
    ignored: list[dict] = field(default_factory=list)
    #: problems found in the input (missing files, bad rows...): each {kind, where, detail}
    problems: list[dict] = field(default_factory=list)
    settings: dict = field(default_factory=dict)

    @property
    def subjects(self) -> list[str]:
        return sorted({s.subject for s in self.references} | {s.subject for s in self.probes})

    def summary(self) -> dict:
        return {
            "name": self.name,
            "root": str(self.root),
            "subjects": len(self.subjects),
            "references": len(self.references),
            "probes": len(self.probes),
            "excluded_subjects": len(self.excluded),
            "ignored_files": len(self.ignored),
            "problems": len(self.problems),
        }
