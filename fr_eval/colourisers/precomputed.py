"""Colourisations made elsewhere: a directory that mirrors the dataset's layout."""
from __future__ import annotations

from pathlib import Path

from ..datasets.base import IMAGE_EXTENSIONS
from ..errors import FrEvalError
from ..images import ImageLoadError, load_image
from ..provenance import file_sha256
from .base import ColourisationFailed


class PrecomputedColouriser:
    """Reads ``<root>/<path relative to the dataset root>``; when that file is absent, a file
    with the same stem and any image extension (``a/b.jpg`` may be stored as ``a/b.png``).
    Missing or unreadable files are failures with a reason, not errors."""

    def __init__(self, root: str | Path, name: str = "precomputed"):
        if not root:
            raise FrEvalError(f"colouriser '{name}' (precomputed) needs a root: "
                              f"colourisers.{name}.root=<dir mirroring the dataset>")
        self.root = Path(root).expanduser()
        if not self.root.is_dir():
            raise FrEvalError(f"colourisers.{name}.root={self.root} is not a directory")
        self.name = name

    def settings(self) -> dict:
        return {"type": "precomputed", "root": str(self.root.resolve())}

    def prepare(self, dataset) -> None:
        pass

    def _find(self, sample) -> Path | None:
        p = self.root / sample.rel
        if p.is_file():
            return p
        for ext in IMAGE_EXTENSIONS + tuple(e.upper() for e in IMAGE_EXTENSIONS):
            q = p.with_suffix(ext)
            if q.is_file():
                return q
        return None

    def sample_key(self, sample) -> str:
        p = self._find(sample)
        return f"missing:{sample.rel}" if p is None else file_sha256(p)

    def colourise(self, grey, sample):
        p = self._find(sample)
        if p is None:
            raise ColourisationFailed(f"precomputed colourisation missing: {self.root / sample.rel}",
                                      cacheable=False)
        try:
            return load_image(p)
        except ImageLoadError as exc:
            raise ColourisationFailed(f"precomputed colourisation unreadable: {p}: {exc}") from exc
