"""DeOldify: the real architectures with random weights, saved in the official key layout."""
import numpy as np
import pytest


torch = pytest.importorskip("torch", reason="the DeOldify tests need PyTorch (CPU: pip install torch==2.13.0)")

from fr_eval.colourisers.deoldify_net import (SpectralNormConv,  # noqa: E402
                                              WeightNormConv)




def test_spectral_and_weight_norm_match_pytorch():
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(6, 4, 3, padding=1)
    sn = torch.nn.utils.spectral_norm(torch.nn.Conv2d(6, 4, 3, padding=1))
    sn.train()
    x = torch.randn(2, 6, 9, 9)
    for _ in range(3):
        sn(x)  # a few power iterations, as a trained network's u and v
    sn.eval()
    ours = SpectralNormConv(conv)
    ours.load_state_dict(sn.state_dict(), strict=True)  # weight_orig, bias, weight_u, weight_v
    torch.testing.assert_close(ours(x), sn(x))
    with torch.no_grad():  # the normalised weight is kept under no_grad, and follows a new state dict
        first = ours(x)
        assert ours.weight() is ours.weight()
        for _ in range(2):
            sn.train()
            sn(x)  # u and v move on
        sn.eval()
        sn.weight_orig.mul_(1.5)
        ours.load_state_dict(sn.state_dict(), strict=True)
        torch.testing.assert_close(ours(x), sn(x))
        assert not torch.allclose(ours(x), first)
    wn = torch.nn.utils.weight_norm(torch.nn.Conv2d(6, 4, 1))
    ours_w = WeightNormConv(torch.nn.Conv2d(6, 4, 1))
    ours_w.load_state_dict(wn.state_dict(), strict=True)  # weight_g, weight_v, bias
    torch.testing.assert_close(ours_w(x), wn(x))


def yuv_merge_by_hand(colour, grey, order):
    """The merge written out: Y of the grey pixel, U and V of the colour pixel, with OpenCV's YUV
    definition (Y = .299 R + .587 G + .114 B, U = .492 (B - Y) + 128, V = .877 (R - Y) + 128) applied
    to the channels in ``order`` ("rgb": as they are; "bgr": the first channel read as blue)."""
    def yuv(px):
        r, g, b = px if order == "rgb" else px[::-1]
        y = 0.299 * r + 0.587 * g + 0.114 * b
        return y, 0.492 * (b - y) + 128, 0.877 * (r - y) + 128
    y = yuv(grey)[0]
    _, u, v = yuv(colour)
    r, b = y + (v - 128) / 0.877, y + (u - 128) / 0.492
    g = (y - 0.299 * r - 0.114 * b) / 0.587
    out = np.clip(np.rint([r, g, b]), 0, 255)
    return out if order == "rgb" else out[::-1]


def test_the_two_yuv_merges_on_a_hand_made_image():
    from fr_eval.colourisers.deoldify import deoldify_postprocess

    colour = np.array([[[200, 60, 40]]], np.uint8)  # a red-orange pixel, RGB
    grey = np.array([[[100, 100, 100]]], np.uint8)
    got = {m: deoldify_postprocess(colour, grey, m)[0, 0].astype(int) for m in ("legacy", "rgb")}
    assert np.abs(got["rgb"] - yuv_merge_by_hand([200, 60, 40], [100, 100, 100], "rgb")).max() <= 1
    assert np.abs(got["legacy"] - yuv_merge_by_hand([200, 60, 40], [100, 100, 100], "bgr")).max() <= 1
    assert got["rgb"][0] > got["rgb"][2]  # the RGB merge keeps red red
    assert np.abs(got["rgb"] - got["legacy"]).max() > 20  # the legacy one moves it towards blue
    with pytest.raises(ValueError, match="choose from legacy, rgb"):
        deoldify_postprocess(colour, grey, "bgr")
