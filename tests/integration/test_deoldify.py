"""DeOldify: the real architectures with random weights, saved in the official key layout."""
import numpy as np
import pytest


torch = pytest.importorskip("torch", reason="the DeOldify tests need PyTorch (CPU: pip install torch==2.13.0)")

from fr_eval.colourisers import build_colouriser  # noqa: E402
from fr_eval.colourisers.weights import PUBLISHED, resolve_weights  # noqa: E402
from fr_eval.colourisers.deoldify_net import (DeOldifyGenerator)
from fr_eval.errors import ModelFilesMissing  # noqa: E402
from fr_eval.images import greyscale_rec709, load_image  # noqa: E402


def test_official_key_layout_and_size():
    net = DeOldifyGenerator("stable")
    sd = net.state_dict()
    # the first decoder block's pixel-shuffle conv: 512 * nf_factor(2) * 2 output channels
    assert sd["layers.4.shuf.conv.0.weight_orig"].shape[0] == 2048
    assert "layers.4.shuf.conv.0.weight_u" in sd and "layers.4.shuf.conv.1.running_mean" in sd
    assert "layers.0.4.0.conv1.weight" in sd and "layers.0.7.2.bn3.num_batches_tracked" in sd  # ResNet-101 body
    assert "layers.3.0.0.weight_orig" in sd and "layers.3.1.2.running_var" in sd  # middle convs + BN
    assert "layers.5.conv.3.query.weight_orig" in sd and sd["layers.5.conv.3.gamma"].shape == (1,)  # attention
    assert "layers.8.conv.0.weight_g" in sd and "layers.8.conv.0.bias" in sd  # weight-normed final upsampling
    assert "layers.10.layers.1.0.weight_orig" in sd  # res_block
    assert sd["layers.11.0.weight_orig"].shape == (3, 256 + 3, 1, 1)  # final 1x1 conv after the dense merge
    for arch in ("stable", "artistic"):
        n = DeOldifyGenerator(arch).state_dict()
        mb = sum(t.numel() * t.element_size() for t in n.values()) / 2**20
        assert abs(mb - PUBLISHED[arch].mib) / PUBLISHED[arch].mib < 0.02


@pytest.fixture(scope="module")
def artistic_checkpoint(tmp_path_factory):
    torch.manual_seed(1)
    net = DeOldifyGenerator("artistic")
    with torch.no_grad():  # make the random network's output depend on its input
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_var.fill_(1.0)
                m.running_mean.zero_()
    path = tmp_path_factory.mktemp("w") / "ColorizeArtistic_gen.pth"
    torch.save({"model": net.state_dict(), "opt": None}, path)  # fastai's learn.save layout
    return path


def test_artistic_end_to_end(artistic_checkpoint, lfw_small):
    col = build_colouriser("deoldify-artistic", {"deoldify-artistic": {
        "type": "deoldify", "model": "artistic", "weights": str(artistic_checkpoint), "render_factor": 4,
        "device": "cpu"}})
    assert col.settings()["sha256"] and col.settings()["sha256_verified"] is False
    grey = greyscale_rec709(load_image(sorted(lfw_small.rglob("*.jpg"))[0]))
    out = col.colourise(grey)
    assert out.shape == grey.shape and out.dtype == np.uint8
    import cv2
    # DeOldify keeps the input's luminance (Y of its YUV merge) wherever the merged colour
    # fits in RGB; where a channel clips at 0 or 255, Y moves (a random network's extreme
    # chroma clips far more often than a trained one's)
    y_in = cv2.cvtColor(grey, cv2.COLOR_BGR2YUV)[..., 0].astype(int)
    y_out = cv2.cvtColor(out, cv2.COLOR_BGR2YUV)[..., 0].astype(int)
    unclipped = ((out > 0) & (out < 255)).all(axis=2)
    assert unclipped.mean() > 0.3
    assert np.abs(y_in - y_out)[unclipped].max() <= 1
    chroma = np.abs(out.astype(int) - out.mean(axis=2, keepdims=True)).mean()
    assert chroma > 0.5  # not grey
    # a colouriser built for another worker process loads the network itself, once
    import pickle
    clone = pickle.loads(pickle.dumps(col))
    assert clone._net is None and np.array_equal(clone.colourise(grey), out)


def test_wrong_architecture_is_a_clear_error(artistic_checkpoint):
    from fr_eval.colourisers.deoldify import load_generator
    with pytest.raises(ModelFilesMissing, match="of another shape"):
        load_generator(artistic_checkpoint, "stable")


def test_missing_weights_error_names_file_url_and_size(tmp_path):
    with pytest.raises(ModelFilesMissing) as e:
        resolve_weights("stable", None, cache_dir=tmp_path, download=False)
    msg = str(e.value)
    assert "ColorizeStable_gen.pth" in msg and "https://" in msg and str(tmp_path) in msg and "833 MiB" in msg
    with pytest.raises(ModelFilesMissing, match="does not match"):
        p = tmp_path / "w.pth"
        p.write_bytes(b"x")
        resolve_weights("stable", str(p), sha256="0" * 64)


def test_scenarios_4_and_5_with_deoldify_and_exemplar(artistic_checkpoint, lfw_small, tmp_path):
    """One Table 3 row per colouriser; DeOldify defined on the command line, as a user would
    name Kelley's weights; run in worker processes that load the network themselves."""
    import json

    from fr_eval.cli import main
    out = tmp_path / "r"
    code = main(["scenario=[4,5]", "system=sface", f"dataset.root={lfw_small}",
                 f"+colourisers.rand={{type:deoldify,model:artistic,weights:{artistic_checkpoint},render_factor:2,"
                 f"device:cpu}}", "colouriser=[exemplar,rand]", f"out_dir={out}", f"store_dir={tmp_path / 's'}",
                 "progress=false", "bootstrap.n_resamples=100", "workers=2"])
    assert code == 0
    m = json.loads((out / "metrics.json").read_text())
    assert [r["label"] for r in m["rows"]] == ["4 [exemplar]", "4 [rand]", "5 [exemplar]", "5 [rand]"]
    assert m["colourisers"]["rand"]["type"] == "deoldify" and len(m["colourisers"]["rand"]["sha256"]) == 64
    assert m["colourisers"]["rand"]["merge"] == "legacy"  # the paper's era, said in every row's note
    assert "- 4 [rand], 5 [rand]: DeOldify artistic [An19], 2019 merge" in (out / "table3.md").read_text()
    assert m["engine"]["workers"] == 2 and m["engine"]["parallel"] == "process"
    assert (out / "colourisation_examples.png").is_file()
    kept = list((tmp_path / "s" / "images" / "colourised_rand_").rglob("*.png"))
    assert len(kept) == 120  # every image colourised once, kept as a file
