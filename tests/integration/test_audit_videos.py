"""Videos in the audit, made here from LFW photos (no video is committed): a steady video of one person, a video
that cuts to another person halfway, one with blank frames, an animated GIF, and a corrupt file; the sampling
rules, a rerun that reuses every frame, and two judges on the same videos."""
import csv
import json
from fractions import Fraction

import numpy as np
import pytest
from PIL import Image

av = pytest.importorskip("av", reason="PyAV is not installed (a dependency of fr-eval: pip install -e .)")

pytestmark = pytest.mark.slow


def rgb(path, size=256):
    return np.asarray(Image.open(path).convert("RGB").resize((size, size)))


def make_video(path, frames, fps=8, rotation=0, start=0.0):
    """An H.264 video of ``frames``; ``rotation``: a display matrix (degrees counter-clockwise, as a phone
    writes for portrait video); ``start``: the first frame's timestamp (s)."""
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=fps)
        s.width, s.height, s.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv420p"
        if rotation:
            s.set_display_rotation(rotation)
        s.codec_context.time_base = Fraction(1, fps)
        for i, img in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts, frame.time_base = int(round(start * fps)) + i, Fraction(1, fps)
            for pkt in s.encode(frame):
                c.mux(pkt)
        for pkt in s.encode():
            c.mux(pkt)


def build(lfw_small, tmp_path):
    people = sorted(p for p in lfw_small.iterdir() if p.is_dir())[:6]
    photos = {p.name: sorted(p.glob("*.jpg")) for p in people}
    a, b = people[0].name, people[1].name
    rows = ["path,identity,role,method,target"]
    rows += [f"{f},{n},reference,," for n, fs in photos.items() for f in fs[:2]]  # enrolment: two photos each
    v = tmp_path / "videos"
    v.mkdir()
    make_video(v / "steady.mp4", [rgb(f) for f in photos[a][2:] for _ in range(8)])  # 16 frames, two photos
    make_video(v / "cut.mp4", [rgb(photos[a][2])] * 8 + [rgb(photos[b][2])] * 8)  # cuts to b at frame 8
    make_video(v / "alternating.mp4", [rgb(photos[a if i % 2 == 0 else b][2]) for i in range(16)])  # a, b, a, b ...
    make_video(v / "blank.mp4", [rgb(photos[a][3])] * 8 + [np.full((256, 256, 3), 128, np.uint8)] * 8)
    gif = [Image.open(f).convert("RGB") for f in photos[b][2:]]
    gif += [g.transpose(Image.Transpose.FLIP_LEFT_RIGHT) for g in gif]  # four distinct frames (GIF merges repeats)
    gif[0].save(v / "moving.gif", save_all=True, append_images=gif[1:], duration=100, loop=0)
    (v / "corrupt.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 4)
    # a talking head and its driving video: frame i of one against frame i of the other (CSIM, SSIM)
    make_video(v / "head.mp4", [rgb(photos[a][2])] * 4 + [rgb(photos[a][3])] * 4)
    make_video(v / "driving.mp4", [rgb(photos[a][2])] * 8)
    rows += [f"{v / 'steady.mp4'},{a},generated,steady,", f"{v / 'cut.mp4'},{a},generated,cut,",
             f"{v / 'alternating.mp4'},{a},generated,alternating,",
             f"{v / 'blank.mp4'},{a},generated,blank,", f"{v / 'moving.gif'},{b},generated,gif,",
             f"{v / 'corrupt.mp4'},{a},generated,corrupt,", f"{v / 'head.mp4'},{a},generated,head,{v / 'driving.mp4'}"]
    (tmp_path / "m.csv").write_text("\n".join(rows) + "\n")
    return tmp_path / "m.csv", a, b


def rows_of(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def audit(args):
    from fr_eval.cli import main
    assert main(["scenario=generated", "generated.allow_outside=true", "progress=false", "bootstrap.n_resamples=50",
                 "generated.min_per_method=1", "report.min_subjects=1", *args]) == 0


def test_videos_in_the_audit(lfw_small, tmp_path):
    manifest, a, b = build(lfw_small, tmp_path)
    store, out = tmp_path / "s", tmp_path / "r"
    audit([f"generated.manifest={manifest}", "system=sface", f"store_dir={store}", f"out_dir={out}"])
    doc = json.loads((out / "metrics.json").read_text())
    v = doc["videos"]
    methods = {m["method"]: m for m in v["methods"]}
    videos = {r["method"]: r for r in rows_of(out / "generated_videos.csv")}
    # sampling: uniform:16 of 16-frame videos keeps every frame; the GIF has 4 frames
    assert (videos["steady"]["n_frames"], videos["steady"]["n_frames_video"]) == ("16", "16")
    assert videos["gif"]["n_frames"] == "4" and videos["gif"]["status"] == "read"
    # a steady video of the person: every frame acquired and verified, consistent over time
    s = methods["steady"]
    assert s["frame_fta"] == 0.0 and s["videos_verified"] == 1.0 and videos["steady"]["verified"] == "True"
    assert s["similarity_min"] > v["threshold"] and s["drift_adjacent_p10"] > v["threshold"]
    # the cut: one adjacent pair (frames 7-8) of 15 crosses people: TL-ID stays high, TG-ID falls (half the pairs
    # cross), the lowest pair falls to an impostor's level; the worst frame is after the cut
    c = videos["cut"]
    assert float(c["lowest_pair"]) < v["threshold"] < float(videos["steady"]["lowest_pair"])
    assert float(c["tg_id"]) < float(c["tl_id"]) and float(c["tg_id"]) < float(videos["steady"]["tg_id"])
    # alternating between the two people frame by frame: every adjacent pair crosses, so TL-ID falls below
    # the threshold and under TG-ID (about half of all pairs are the same person); the steady video keeps both high
    alt, st = videos["alternating"], videos["steady"]
    assert float(alt["tl_id"]) < v["threshold"] < min(float(st["tl_id"]), float(st["tg_id"]))
    assert float(alt["tl_id"]) < float(alt["tg_id"]) and float(c["tl_id"]) > float(alt["tl_id"])
    assert int(c["worst_frame"].rsplit("#", 1)[1]) >= 8 and float(c["verified_share"]) == pytest.approx(0.5)
    # blank frames: half the frames not acquired (frame FTA), the other half verified
    assert methods["blank"]["frame_fta"] == pytest.approx(0.5) and float(videos["blank"]["acquired_share"]) == 0.5
    # a corrupt file: a counted, explained failure of its row, not a crash
    bad = videos["corrupt"]
    assert bad["status"] == "failed" and bad["reason"].startswith("cannot be opened as a video")
    assert methods["corrupt"]["n_failed_videos"] == 1 and methods["corrupt"]["videos_verified"] == 0.0
    assert any(p["kind"] == "unreadable video" for p in doc["problems"])
    # the report: tables, the similarity-over-time plot, the strip; each frame also an image of its method
    table = (out / "generated_video_methods.md").read_text()
    assert "| steady | 1 | 0 | 1 | 16 |" in table and "| corrupt | 1 | 1 | 1 | 0 |" in table
    for f in ("video_similarity_over_time.png", "video_worst_frames.png"):
        assert Image.open(out / f).size[0] > 300
    images = rows_of(out / "generated_images.csv")
    assert sum(r["method"] == "steady" for r in images) == 16 and "Videos" in (out / "report.html").read_text()
    # the talking head: each frame against the driving video's frame of the same index; the first four frames
    # are the driving frame's own photo (CSIM near 1, SSIM high), the last four another photo
    head = sorted((r for r in images if r["method"] == "head"), key=lambda r: r["path"])
    assert len(head) == 8 and all(r["target"].endswith(f"driving.mp4#{r['path'].rsplit('#', 1)[1]}") for r in head)
    same, other = [float(r["csim"]) for r in head[:4]], [float(r["csim"]) for r in head[4:]]
    assert min(same) > 0.95 > max(other) and min(float(r["ssim"]) for r in head[:4]) > 0.8
    assert float(videos["head"]["csim_mean"]) == pytest.approx(np.mean(same + other), abs=1e-6)
    # a rerun reuses every frame (no frame written again) and every acquisition
    frames = sorted((store / "frames").rglob("*.png"))
    stamps = [f.stat().st_mtime_ns for f in frames]
    audit([f"generated.manifest={manifest}", "system=sface", f"store_dir={store}", f"out_dir={tmp_path / 'r2'}"])
    assert [f.stat().st_mtime_ns for f in frames] == stamps
    again = json.loads((tmp_path / "r2" / "metrics.json").read_text())
    assert again["engine"]["computed"] == 0 and again["videos"]["methods"] == v["methods"]
    # a changed video (a new digest) is decoded again: its frames go to a folder of their own
    before = {d.name for d in (store / "frames").glob("*/*")}
    (tmp_path / "videos" / "steady.mp4").write_bytes((tmp_path / "videos" / "cut.mp4").read_bytes())
    audit([f"generated.manifest={manifest}", "system=sface", f"store_dir={store}", f"out_dir={tmp_path / 'r4'}"])
    changed = {r["method"]: r for r in rows_of(tmp_path / "r4" / "generated_videos.csv")}
    assert {d.name for d in (store / "frames").glob("*/*")} == before  # the cut video's digest: already there
    assert changed["steady"]["tg_id"] == changed["cut"]["tg_id"] != videos["steady"]["tg_id"]
    # another rule: every:5 of 16 frames keeps frames 0, 5, 10, 15
    audit([f"generated.manifest={manifest}", "system=sface", f"store_dir={store}", f"out_dir={tmp_path / 'r3'}",
           "generated.video.frames=every:5"])
    every = {r["method"]: r for r in rows_of(tmp_path / "r3" / "generated_videos.csv")}
    assert every["steady"]["n_frames"] == "4" and every["gif"]["n_frames"] == "1"
    imgs = rows_of(tmp_path / "r3" / "generated_images.csv")
    assert sorted(r["path"].rsplit("#", 1)[1] for r in imgs if r["method"] == "cut") == [
        "000000", "000005", "000010", "000015"]


def test_tl_id_and_tg_id_by_hand():
    """Four frames with known similarities: TL-ID the mean of the three adjacent pairs, TG-ID of all six, the
    drift the 10th percentile of the adjacent ones."""
    from fr_eval.stages.audit_video import consistency
    s = np.array([[1.0, 0.9, 0.5, 0.4], [0.9, 1.0, 0.6, 0.3], [0.5, 0.6, 1.0, 0.8], [0.4, 0.3, 0.8, 1.0]])
    c = consistency(s)
    assert c["tl_id"] == pytest.approx((0.9 + 0.6 + 0.8) / 3) and c["tg_id"] == pytest.approx(3.5 / 6)
    assert c["drift_adjacent_p10"] == pytest.approx(np.percentile([0.9, 0.6, 0.8], 10)) and c["lowest_pair"] == 0.3
    assert np.isnan(consistency(None)["tl_id"])


def test_sampling_rules():
    from fr_eval.video import sample_indices
    assert sample_indices(20, "all") == list(range(20)) and sample_indices(20, "every:6") == [0, 6, 12, 18]
    assert sample_indices(20, "uniform:5") == [0, 5, 10, 14, 19] and sample_indices(3, "uniform:16") == [0, 1, 2]
    assert sample_indices(0, "uniform:4") == []
    with pytest.raises(Exception, match="generated.video.frames=uniform:0 is not valid"):
        sample_indices(5, "uniform:0")


def test_two_judges_on_videos(lfw_small, tmp_path):
    pytest.importorskip("dlib", reason="dlib is not installed (pip install -e '.[dlib]')")
    manifest, _, _ = build(lfw_small, tmp_path)
    out = tmp_path / "r"
    audit([f"generated.manifest={manifest}", "system=[sface,dlib]", f"store_dir={tmp_path / 's'}", f"out_dir={out}"])
    subs = {n: json.loads((out / n / "metrics.json").read_text()) for n in ("sface", "dlib")}
    for n, sub in subs.items():
        m = {x["method"]: x for x in sub["videos"]["methods"]}
        assert m["steady"]["videos_verified"] == 1.0 and m["corrupt"]["n_failed_videos"] == 1, n
        assert m["blank"]["frame_fta"] == pytest.approx(0.5), n
    judges = json.loads((out / "metrics.json").read_text())["judges"]
    rows = {r["method"]: r for r in judges["methods"]}
    assert set(rows["steady"]["verified"]) == {"sface", "dlib"}


def test_unreadable_videos_say_why(lfw_small, tmp_path):
    from fr_eval.video import VideoError, extract
    photo = rgb(sorted(lfw_small.rglob("*.jpg"))[0])
    make_video(tmp_path / "ok.mp4", [photo] * 6)
    data = (tmp_path / "ok.mp4").read_bytes()
    (tmp_path / "cut_short.mp4").write_bytes(data[: len(data) // 3])  # a download cut short
    with pytest.raises(VideoError, match="cannot be opened as a video"):
        extract(tmp_path / "cut_short.mp4", "a" * 64, tmp_path / "f", "all")
    with av.open(str(tmp_path / "sound.mp4"), "w", format="wav") as c:  # a sound file named .mp4
        s = c.add_stream("pcm_s16le", rate=8000)
        f = av.AudioFrame.from_ndarray(np.zeros((1, 800), np.int16), format="s16", layout="mono")
        f.sample_rate = 8000
        for pkt in [*s.encode(f), *s.encode()]:
            c.mux(pkt)
    with pytest.raises(VideoError, match="holds no video stream"):
        extract(tmp_path / "sound.mp4", "b" * 64, tmp_path / "f", "all")
    got = extract(tmp_path / "ok.mp4", "c" * 64, tmp_path / "f", "uniform:3", max_seconds=0.5)
    assert got.n_frames == 5 and [f.index for f in got.frames] == [0, 2, 4]  # 8 fps: frames at 0 ... 0.5 s
    assert all(f.path.is_file() and f.path.parent.name == "c" * 64 for f in got.frames)


def test_rotated_and_offset_videos(lfw_small, tmp_path):
    """A phone's portrait video (frames stored sideways, a display matrix of -90 degrees) is read upright; a
    stream whose timestamps start at 10 s keeps its first max_seconds of video, not nothing."""
    from fr_eval.video import extract
    photo = rgb(sorted(lfw_small.rglob("*.jpg"))[0], size=128)
    photo = photo.copy()
    photo[:16, :48] = 255  # a mark at the top left, to see which way the frames were turned
    # stored turned a quarter clockwise (np.rot90 with k=-1), played back turned a quarter counter-clockwise
    make_video(tmp_path / "portrait.mp4", [np.rot90(photo, -1).copy()] * 4, rotation=90)
    got = extract(tmp_path / "portrait.mp4", "p" * 64, tmp_path / "f", "all")
    assert got.rotation == 90 and got.n_frames == 4
    frame = np.asarray(Image.open(got.frames[0].path), np.int16)
    assert frame.shape == photo.shape and np.abs(frame - photo).mean() < 6  # upright: the photo again
    assert frame[:16, :48].mean() > 200 and frame[-16:, -48:].mean() < 200
    make_video(tmp_path / "late.mkv", [photo] * 16, start=10.0)  # 8 fps from t = 10 s
    got = extract(tmp_path / "late.mkv", "o" * 64, tmp_path / "f", "all", max_seconds=1)
    assert got.start == pytest.approx(10.0) and got.n_frames == 9  # 0, 0.125, ..., 1.0 s after the first frame
    assert [f.time for f in got.frames][:3] == [0.0, 0.125, 0.25]


def test_rotated_video_in_the_audit_and_a_video_as_reference(lfw_small, tmp_path):
    """The audit of a portrait video finds the faces the display matrix turns upright (0 of 4 before), says
    the rotation per video; a video given as a reference is a counted problem that says why."""
    people = sorted(p for p in lfw_small.iterdir() if p.is_dir())[:3]
    photos = {p.name: sorted(p.glob("*.jpg")) for p in people}
    a = people[0].name
    make_video(tmp_path / "portrait.mp4", [np.rot90(rgb(photos[a][3]), -1).copy()] * 4, rotation=90)
    make_video(tmp_path / "ref.mp4", [rgb(photos[a][2])] * 4)
    rows = ["path,identity,role,method"] + [f"{f},{n},reference," for n, fs in photos.items() for f in fs[:2]]
    rows += [f"{tmp_path / 'portrait.mp4'},{a},generated,phone", f"{tmp_path / 'ref.mp4'},{a},reference,"]
    (tmp_path / "m.csv").write_text("\n".join(rows) + "\n")
    out = tmp_path / "r"
    audit([f"generated.manifest={tmp_path / 'm.csv'}", "system=sface", f"store_dir={tmp_path / 's'}",
           f"out_dir={out}"])
    video = rows_of(out / "generated_videos.csv")[0]
    assert video["display_rotation"] == "90" and video["n_acquired"] == "4" and video["verified"] == "True"
    problems = json.loads((out / "metrics.json").read_text())["problems"]
    ref = [p for p in problems if p["kind"] == "video as reference"]
    assert len(ref) == 1 and "references are enrolled from still photos" in ref[0]["detail"]
