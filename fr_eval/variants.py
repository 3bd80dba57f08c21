"""Image variants: what a sample looks like when it reaches the face system."""
from __future__ import annotations

import hashlib
import json
from typing import Protocol

import numpy as np

from .colourisers.base import Colouriser
from .images import greyscale_rec709


class Variant(Protocol):
    name: str  # "original", "greyscale", "colourised[exemplar]"

    def key(self, sample) -> str:
        """Identifies the transform (and any per-sample input beyond the image) in the store."""

    def apply(self, rgb: np.ndarray, sample) -> np.ndarray:
        """Transform the original RGB image; may raise ColourisationFailed."""


class Original:
    name = "original"

    def key(self, sample) -> str:
        return "original"

    def apply(self, rgb, sample):
        return rgb


class Greyscale:
    name = "greyscale"

    def key(self, sample) -> str:
        return "greyscale:rec709luma-im6"

    def apply(self, rgb, sample):
        return greyscale_rec709(rgb)


class Colourised:
    """Greyscale (Rec709Luma) first, then the colouriser."""

    def __init__(self, colouriser: Colouriser):
        self.colouriser = colouriser
        self.name = f"colourised[{colouriser.name}]"
        settings = json.dumps(colouriser.settings(), sort_keys=True, default=str)
        self._settings_hash = hashlib.sha256(settings.encode()).hexdigest()[:16]

    def key(self, sample) -> str:
        return f"colourised:{self._settings_hash}:{self.colouriser.sample_key(sample)}"

    def apply(self, rgb, sample):
        return self.colouriser.colourise(greyscale_rec709(rgb), sample)


ORIGINAL, GREYSCALE = Original(), Greyscale()
