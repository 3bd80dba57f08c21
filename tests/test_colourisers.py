import numpy as np
import pytest
from skimage import color

from fr_eval.colourisers import build_colouriser
from fr_eval.datasets import load_dataset
from fr_eval.errors import ConfigError
from fr_eval.images import greyscale_rec709, load_image


def test_exemplar_keeps_luminance_adds_chroma(lfw_small):
    ds = load_dataset({"type": "folder", "root": str(lfw_small)})
    col = build_colouriser("exemplar", {"exemplar": {"type": "exemplar", "seed": 0}})
    col.prepare(ds)
    for sample in ds.probes[:5]:
        ex = col.exemplar_for(sample)
        assert ex.subject != sample.subject and ex.role == "reference"
        grey = greyscale_rec709(load_image(sample.path))
        out = col.colourise(grey, sample)
        assert out.shape == grey.shape and out.dtype == np.uint8
        lab_in, lab_out = color.rgb2lab(grey), color.rgb2lab(out)
        # luminance kept up to sRGB quantisation and gamut clipping (L* in 0..100)
        assert np.median(np.abs(lab_in[..., 0] - lab_out[..., 0])) < 0.5
        assert np.percentile(np.abs(lab_in[..., 0] - lab_out[..., 0]), 99) < 3.0
        assert np.hypot(lab_out[..., 1], lab_out[..., 2]).mean() > 2.0  # real chroma
    # deterministic in the seed, and the seed changes the choice for some subject
    other = build_colouriser("exemplar", {"exemplar": {"type": "exemplar", "seed": 1}})
    other.prepare(ds)
    assert [col.exemplar_for(s).rel for s in ds.probes] == [col.exemplar_for(s).rel for s in ds.probes]
    assert [col.exemplar_for(s).rel for s in ds.probes] != [other.exemplar_for(s).rel for s in ds.probes]


def test_unknown_colouriser_names_choices():
    with pytest.raises(ConfigError, match="choose from exemplar, precomputed"):
        build_colouriser("deoldify", {"exemplar": {"type": "exemplar"}, "precomputed": {"type": "precomputed"}})
