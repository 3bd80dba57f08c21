"""The colouriser interface. A colouriser turns a greyscale RGB image into a colour one."""
from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np


class ColourisationFailed(Exception):
    """This sample could not be colourised (the message is the reason); it counts as a failure to acquire."""

    def __init__(self, reason: str, cacheable: bool = True, transient: bool = False):
        super().__init__(reason)
        #: transient: an error of the machine (out of memory, a library crash), not of the image;
        #: such a failure is never stored and the sample is retried on the next run
        self.cacheable = cacheable and not transient
        self.transient = transient


@runtime_checkable
class Colouriser(Protocol):
    #: the label of its Table 3 rows, e.g. "exemplar" or "deoldify-stable"
    name: str
    # optional, not part of the protocol: ``description``, what the report says beside its rows
    # (ExemplarColouriser: that it is a weight-free stand-in, not DeOldify); ``stand_in``, what the
    # headline's question calls it when it stands in for a generative colouriser
    # ("exemplar colour transfer (a stand-in for DeOldify)")

    def settings(self) -> dict:
        """Everything that changes the output (weights' sha256, parameters); part of the store key."""

    def prepare(self, dataset) -> None:
        """Called once with the dataset before any ``colourise`` call (may do nothing)."""

    def sample_key(self, sample) -> str:
        """What, beyond the input pixels and ``settings()``, decides this sample's output ("" if nothing)."""

    def colourise(self, grey: np.ndarray, sample) -> np.ndarray:
        """RGB uint8 colour image from an (H, W, 3) greyscale one; raises ColourisationFailed."""
