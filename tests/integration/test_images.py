import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fr_eval.images import greyscale_rec709, load_image


sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: conftest

from conftest import find_imagemagick  # noqa: E402


def test_greyscale_matches_imagemagick_on_real_photos(lfw_small, tmp_path):
    exe = find_imagemagick()
    if exe is None:
        pytest.skip("ImageMagick is not installed (Debian package 'imagemagick'; .ci/run installs it)")
    files = sorted(lfw_small.rglob("*.jpg"))[::4][:30]
    same = total = 0
    worst = 0
    for f in files:
        out = tmp_path / "g.png"
        subprocess.run([exe, str(f), "-grayscale", "Rec709Luma", str(out)], check=True)
        ref = np.asarray(Image.open(out).convert("L")).astype(int)
        ours = greyscale_rec709(load_image(f))
        assert (ours[:, :, 0] == ours[:, :, 1]).all() and (ours[:, :, 1] == ours[:, :, 2]).all()
        d = np.abs(ours[:, :, 0].astype(int) - ref)
        worst = max(worst, int(d.max()))
        same += int((d == 0).sum())
        total += d.size
    assert worst <= 1
    assert same / total >= 0.99
