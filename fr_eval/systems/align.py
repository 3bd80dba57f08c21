"""5-point similarity alignment onto insightface's ArcFace template.

Equivalent to ``insightface.utils.face_align.norm_crop``, but with scikit-image's
``SimilarityTransform.from_estimate`` (the ``estimate`` method norm_crop calls is deprecated
in scikit-image 0.26 and removed in 2.2); ``tests/test_systems.py`` checks the crops are equal.
"""
from __future__ import annotations

import cv2
import numpy as np
from skimage.transform import SimilarityTransform

#: insightface's ArcFace 5-point template for a 112 x 112 crop (eyes, nose, mouth corners)
ARCFACE_TEMPLATE = np.array([[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366],
                             [41.5493, 92.3655], [70.7299, 92.2041]], dtype=np.float32)


def template_for(size: int) -> np.ndarray:
    """The template scaled as insightface does for an output of ``size`` pixels."""
    if size % 112 == 0:
        ratio, dx = size / 112.0, 0.0
    else:
        ratio = size / 128.0
        dx = 8.0 * ratio
    dst = ARCFACE_TEMPLATE * ratio
    dst[:, 0] += dx
    return dst


def similarity_matrix(landmarks: np.ndarray, size: int = 112) -> np.ndarray:
    """The 2 x 3 similarity transform taking the 5 landmarks onto the template."""
    tform = SimilarityTransform.from_estimate(np.asarray(landmarks, np.float64).reshape(5, 2), template_for(size))
    if not tform:
        raise ValueError("landmarks are degenerate: no similarity transform fits them")
    return tform.params[0:2, :]


def norm_crop(img: np.ndarray, landmarks: np.ndarray, size: int = 112) -> np.ndarray:
    """Aligned ``size`` x ``size`` face crop (black outside the image), channel order kept."""
    return cv2.warpAffine(img, similarity_matrix(landmarks, size), (size, size), borderValue=0.0)
