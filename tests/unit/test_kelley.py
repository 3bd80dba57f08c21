"""Kelley's DeOldify [Ke19]: the fork's Unet34 with random weights, saved in each author's layout."""
import re
import shlex

import numpy as np
import pytest


torch = pytest.importorskip("torch", reason="the DeOldify tests need PyTorch (CPU: pip install torch==2.13.0)")

from conftest import PROJECT  # noqa: E402

from unit.test_deoldify import yuv_merge_by_hand  # noqa: E402

from fr_eval.colourisers.deoldify import deoldify_postprocess  # noqa: E402

from fr_eval.colourisers.kelley import bytescale  # noqa: E402

from fr_eval.colourisers.kelley_net import KelleyUnet34  # noqa: E402

from fr_eval.colourisers.weights import PUBLISHED, resolve_weights  # noqa: E402

from fr_eval.errors import ModelFilesMissing  # noqa: E402


REFERENCE = PROJECT / "tests" / "reference" / "kelley_unet34_state_dict.tsv"


# counted from the fork's source (see the reference file's header), not from fr_eval's module
KEYS, PARAMS = 339, 80_681_860


BLOCKS = {"rn": (216, 21_284_672), "up1": (23, 9_577_984), "up2": (23, 18_949_632), "up3": (36, 20_228_865),
          "up4": (23, 9_458_432), "up5": (14, 1_180_544), "out": (4, 1_731)}


BUFFERS = ("running_mean", "running_var", "num_batches_tracked", "weight_u", "weight_v")


def reference_layout() -> dict:
    rows = [line.split("\t") for line in REFERENCE.read_text().splitlines() if line and not line.startswith("#")]
    return {k: (() if s == "-" else tuple(int(d) for d in s.split("x"))) for k, s, _ in rows}


def test_key_layout_is_the_forks():
    ref = reference_layout()
    assert len(ref) == KEYS
    for top, (n_keys, n_params) in BLOCKS.items():
        keys = [k for k in ref if k.split(".")[0] == top]
        params = sum(int(np.prod(ref[k])) for k in keys if k.rsplit(".", 1)[1] not in BUFFERS)
        assert (len(keys), params) == (n_keys, n_params), top
    net = KelleyUnet34()
    ours = {k: tuple(v.shape) for k, v in net.state_dict().items()}
    assert ours == ref  # every key, every shape
    assert sum(p.numel() for p in net.parameters()) == PARAMS
    mib = sum(v.numel() * v.element_size() for v in net.state_dict().values()) / 2**20
    assert abs(mib - PUBLISHED["kelley"].mib) < 1
    assert ref["up3.out.1.gamma"] == () and ref["up1.tr_conv.sequence.0.0.seq.0.weight_orig"] == (2048, 512, 3, 3)
    assert ref["out.0.seq.0.weight_orig"] == (3, 64, 3, 3)  # Tanh follows: no parameters


def test_float_merges_on_a_hand_made_image():
    colour = np.array([[[200, 60, 40]]], np.float32) / 255  # red-orange, RGB, as Kelley's floats
    grey = np.full((1, 1, 3), 100 / 255, np.float32)
    for merge, order in (("legacy", "bgr"), ("rgb", "rgb")):
        got = deoldify_postprocess(colour, grey, merge)[0, 0] * 255
        assert np.abs(got - yuv_merge_by_hand([200, 60, 40], [100, 100, 100], order)).max() <= 1, merge


def test_bytescale_is_scipys():
    img = np.array([[[0.1, 0.3, 0.9]]], np.float32)
    assert bytescale(img).tolist() == [[[0, 64, 255]]]  # (x - .1) * 255 / .8 + .5 = 64.25, truncated
    assert bytescale(np.full((2, 2, 3), 0.4, np.float32)).max() == 0  # flat: scale 1, all at the minimum


def test_missing_weights_name_both_published_files(tmp_path):
    with pytest.raises(ModelFilesMissing) as e:
        resolve_weights("kelley", None, cache_dir=tmp_path, download=False)
    msg = str(e.value)
    assert "'ColorizeOpenSourceV1.pth' or 'colorize_gen_192.h5'" in msg and "dropbox.com" in msg
    assert "about 308 MiB" in msg and str(tmp_path) in msg
    (tmp_path / "colorize_gen_192.h5").write_bytes(b"x")  # the fork's own name is found too
    assert resolve_weights("kelley", None, cache_dir=tmp_path, download=False).name == "colorize_gen_192.h5"


def readme_kelley_command() -> list:
    text = (PROJECT / "README.md").read_text()
    line = re.search(r"^fr-eval (scenario=\S+ .*deoldify-kelley.*)$", text, re.M).group(1)
    return shlex.split(line, comments=True)
