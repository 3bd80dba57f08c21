import numpy as np
from skimage import color

from fr_eval.colourisers import build_colouriser
from fr_eval.datasets import load_dataset
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


def face_b_star(rgb):
    """Mean CIELAB b* (yellow > 0 > blue) of the central 100 x 100 pixels of a 250 x 250 LFW image."""
    return float(color.rgb2lab(rgb[75:175, 75:175])[..., 2].mean())


def test_luminance_choice_takes_the_closest_face_region_and_keeps_dark_faces_from_turning_blue(lfw_small):
    ds = load_dataset({"type": "folder", "root": str(lfw_small)})
    col = build_colouriser("exemplar", {"exemplar": {"type": "exemplar"}})  # choice=luminance is the default
    col.prepare(ds)
    assert col.settings()["choice"] == "luminance" and col.settings()["face_region"] == 0.5

    def stats(path):  # L* of the central half of width and height, computed here with skimage alone
        lum = color.rgb2lab(greyscale_rec709(load_image(path)))[..., 0]
        h, w = lum.shape
        c = lum[round(h / 4):h - round(h / 4), round(w / 4):w - round(w / 4)]
        return c.mean(), c.std()

    refs = {r.rel: stats(r.path) for r in ds.references}
    for sample in ds.probes[::7]:
        m, sd = stats(sample.path)
        dist = {rel: np.hypot(a - m, b - sd) for rel, (a, b) in refs.items()
                if not rel.startswith(sample.subject + "/")}
        assert col.exemplar_for(sample).rel == min(dist, key=dist.get)
    # Abdoulaye Wade, a dark-skinned face: the seeded rule's pale exemplar made some of his images blue
    seeded = build_colouriser("exemplar", {"exemplar": {"type": "exemplar", "choice": "seeded"}})
    seeded.prepare(ds)
    wade = [s for s in ds.references + ds.probes if s.subject == "Abdoulaye_Wade"]
    grey = [greyscale_rec709(load_image(s.path)) for s in wade]
    assert min(face_b_star(seeded.colourise(g, s)) for g, s in zip(grey, wade)) < -5
    assert min(face_b_star(col.colourise(g, s)) for g, s in zip(grey, wade)) > 1


def test_every_exemplar_setting_is_in_the_store_key(lfw_small):
    """A setting that changes the colourised image changes its store key (no stale image is reused)."""
    from fr_eval.variants import Colourised

    ds = load_dataset({"type": "folder", "root": str(lfw_small)})
    sample = ds.probes[0]
    keys = set()
    for extra in ({}, {"choice": "seeded"}, {"face_region": 0.6}, {"samples": 300}, {"window": 7}, {"seed": 3}):
        col = build_colouriser("exemplar", {"exemplar": {"type": "exemplar", **extra}})
        col.prepare(ds)
        keys.add(Colourised(col).key(sample))
    assert len(keys) == 6
    col = build_colouriser("exemplar", {"exemplar": {"type": "exemplar"}})
    col.prepare(ds)
    assert "exemplar's central 0.5" in col.settings()["exemplar_pixels"]


def test_seeded_exemplar_choice_is_deterministic_in_the_seed(lfw_small):
    ds = load_dataset({"type": "folder", "root": str(lfw_small)})
    col, other = (build_colouriser("exemplar", {"exemplar": {"type": "exemplar", "seed": k, "choice": "seeded"}})
                  for k in (0, 1))
    col.prepare(ds)
    other.prepare(ds)
    assert [col.exemplar_for(s).rel for s in ds.probes] == [col.exemplar_for(s).rel for s in ds.probes]
    assert [col.exemplar_for(s).rel for s in ds.probes] != [other.exemplar_for(s).rel for s in ds.probes]
