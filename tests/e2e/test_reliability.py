"""The second outside probe (issue 24), kept as tests: the same face under two names, bad score and
embedding files, replays that change system, folders that are not data, and inputs that used to end
in a traceback. Each case gives the right figures or one clear line, never a silently wrong figure."""
import gzip
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fr_eval.cli import main

from conftest import LFW_SMALL, need


SIX = 6  # subjects: the probe's "six LFW subjects"


def copy_subjects(dst: Path, n: int = SIX) -> list[str]:
    root = need(LFW_SMALL)
    names = sorted(p.name for p in root.iterdir() if p.is_dir())[:n]
    for name in names:
        shutil.copytree(root / name, dst / name)
    return names


def run(tmp_path, root, *extra, out="r", store="s"):
    return main(["scenario=1", "system=sface", "dataset=folder", f"dataset.root={root}", f"out_dir={tmp_path / out}",
                 f"store_dir={tmp_path / store}", "progress=false", "workers=1", "bootstrap.n_resamples=50", *extra])


def metrics(folder: Path) -> dict:
    return json.loads((folder / "metrics.json").read_text())


def one_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    """Six subjects as they are, and their figures."""
    tmp = tmp_path_factory.mktemp("clean")
    names = copy_subjects(tmp / "data")
    assert run(tmp, tmp / "data") == 0
    return tmp, names, metrics(tmp / "r")["rows"][0]


# -- the same face under two subjects --------------------------------------------------------------
def test_a_photo_filed_under_two_subjects_stops_the_run_naming_both(clean, tmp_path, capsys):
    _, names, base = clean
    data = tmp_path / "data"
    copy_subjects(data)
    first = sorted((data / names[0]).glob("*.jpg"))
    shutil.copy(first[0], data / names[1] / "copy1.jpg")
    shutil.copy(first[1], data / names[1] / "copy2.jpg")
    assert run(tmp_path, data) == 2
    err = one_line(capsys)
    assert "2 image(s) appear under two or more subjects" in err
    assert f"{names[0]}/{first[0].name} = {names[1]}/copy1.jpg" in err and "dataset.duplicates=drop" in err
    assert not (tmp_path / "r").exists()
    # keep: the wrong figures the probe saw, but said: listed problems and a warning on the page
    assert run(tmp_path, data, "dataset.duplicates=keep", out="keep") == 0
    kept = metrics(tmp_path / "keep")
    assert kept["rows"][0]["fnmr"] == 1.0 and kept["rows"][0]["threshold"] > 0.8  # the copies set the threshold
    assert sum(p["kind"] == "same image under two subjects" for p in kept["dataset"]["problems"]) == 2
    assert any("appear under two or more subjects and were kept" in w for w in kept["warnings"])
    assert "appear under two or more subjects and were kept" in (tmp_path / "keep" / "report.html").read_text()
    # drop: the copies leave, and the figures are the clean dataset's
    assert run(tmp_path, data, "dataset.duplicates=drop", out="drop") == 0
    dropped = metrics(tmp_path / "drop")
    row = dropped["rows"][0]
    assert (row["fnmr"], row["threshold"], row["n_genuine"], row["n_impostor"]) == \
        (base["fnmr"], base["threshold"], base["n_genuine"], base["n_impostor"])
    assert {i["path"] for i in dropped["dataset"]["ignored"]} >= {f"{names[1]}/copy1.jpg", f"{names[1]}/copy2.jpg"}


def test_a_symlinked_subject_folder_is_named_as_a_link(clean, tmp_path, capsys):
    _, names, base = clean
    data = tmp_path / "data"
    copy_subjects(data)
    (data / "zz_alias").symlink_to(data / names[0], target_is_directory=True)
    assert run(tmp_path, data) == 2
    err = one_line(capsys)
    assert "4 image(s) appear under two or more subjects" in err and f"zz_alias is a symbolic link to {names[0]}" in err
    assert run(tmp_path, data, "dataset.duplicates=drop", out="drop") == 0
    m = metrics(tmp_path / "drop")
    assert m["dataset"]["subjects"] == SIX and m["rows"][0]["threshold"] == base["threshold"]
    assert {e["subject"] for e in m["dataset"]["excluded"]} == {"zz_alias"}


def test_near_duplicate_embeddings_across_subjects(clean, tmp_path, capsys):
    """A resized, re-encoded copy has another sha256; dataset.near_duplicates finds it by similarity."""
    _, names, base = clean
    data = tmp_path / "data"
    copy_subjects(data)
    src = sorted((data / names[0]).glob("*.jpg"))[1]
    Image.open(src).resize((240, 240)).save(data / names[2] / "resized.png")
    assert run(tmp_path, data, "dataset.near_duplicates=0.9") == 2
    err = one_line(capsys)
    assert "1 cross-subject pair(s) of images score at or above dataset.near_duplicates=0.9" in err
    assert f"{names[0]}/{src.name} ~ {names[2]}/resized.png" in err
    assert run(tmp_path, data, "dataset.near_duplicates=0.9", "dataset.duplicates=drop", out="drop") == 0
    m = metrics(tmp_path / "drop")
    assert m["rows"][0]["n_genuine"] == base["n_genuine"] and m["rows"][0]["threshold"] == base["threshold"]
    assert [p["kind"] for p in m["dataset"]["problems"]] == ["near-duplicate across subjects"]
    # the threshold is a setting: off by default, and above every pair here nothing is found
    assert run(tmp_path, data, "dataset.near_duplicates=0.999", out="high") == 0
    assert metrics(tmp_path / "high")["dataset"]["settings"]["near_duplicates"]["pairs"] == 0


def test_report_and_store_inside_the_root_are_never_data(clean, tmp_path):
    _, _, base = clean
    data = tmp_path / "data"
    copy_subjects(data)
    assert run(tmp_path, data, out="data/report1", store="data/store") == 0
    assert run(tmp_path, data, out="data/report2", store="data/store") == 0
    m = metrics(tmp_path / "data" / "report2")
    assert m["dataset"]["subjects"] == SIX and m["rows"][0]["fta"] == 0.0
    assert m["rows"][0]["threshold"] == base["threshold"]
    why = {i["path"]: i["reason"] for i in m["dataset"]["ignored"]}
    assert why["report1/"].startswith("an fr-eval report folder") and why["store/"].startswith("this run's own")


def test_a_root_one_level_too_high_is_refused_naming_the_root(tmp_path, capsys):
    data = tmp_path / "lfw"
    copy_subjects(data / "small", 3)
    copy_subjects(data / "other", 2)
    (data / "protocol").mkdir()
    (data / "protocol" / "pairs.txt").write_text("1 1\n")
    assert run(tmp_path, data) == 2
    err = one_line(capsys)
    assert "the root looks one level too high" in err and f"give dataset.root={data / 'other'}" in err
    # sessions in sub-folders of a subject: allowed when said
    sess = tmp_path / "sessions"
    for name in copy_subjects(tmp_path / "flat", 3):
        for k, f in enumerate(sorted((tmp_path / "flat" / name).glob("*.jpg"))):
            (sess / name / f"s{k % 2}").mkdir(parents=True, exist_ok=True)
            shutil.copy(f, sess / name / f"s{k % 2}" / f.name)
    assert run(tmp_path, sess, out="r_refused") == 2
    assert "dataset.nested=subject" in one_line(capsys)
    assert run(tmp_path, sess, "dataset.nested=subject", out="r_sessions") == 0
    assert metrics(tmp_path / "r_sessions")["dataset"]["probes"] == 9


def test_appledouble_and_hidden_files_are_skipped_and_listed(clean, tmp_path):
    _, names, base = clean
    data = tmp_path / "data"
    copy_subjects(data)
    first = sorted((data / names[0]).glob("*.jpg"))[0]
    (data / names[0] / f"._{first.name}").write_bytes(b"\x00\x05\x16\x07" + bytes(60))  # an AppleDouble header
    (data / names[0] / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    assert run(tmp_path, data) == 0
    m = metrics(tmp_path / "r")
    assert m["rows"][0]["fta"] == 0.0 and m["rows"][0]["threshold"] == base["threshold"]
    hidden = {i["path"] for i in m["dataset"]["ignored"] if i["reason"].startswith("hidden file")}
    assert hidden == {f"{names[0]}/._{first.name}", f"{names[0]}/.DS_Store"}


# -- score files -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def exported(clean):
    """The clean run's own score export (bob4, pyeer, CSV), the source of the bad files below."""
    tmp = clean[0]
    return tmp / "r" / "scores"


def bob_lines(exported) -> list[str]:
    return (exported / "1.bob4").read_text().splitlines()


def score_run(tmp_path, *args, out="r"):
    return main([*args, f"out_dir={tmp_path / out}"])


def test_infinite_scores_are_refused_with_their_line(exported, tmp_path, capsys):
    lines = bob_lines(exported)
    k = next(i for i, ln in enumerate(lines) if ln.split()[0] != ln.split()[1])
    for value in ("inf", "-inf", "+Infinity"):
        bad = list(lines)
        parts = bad[k].split()
        bad[k] = " ".join(parts[:3] + [value])
        (tmp_path / "inf.bob4").write_text("\n".join(bad) + "\n")
        assert score_run(tmp_path, f"scores={tmp_path / 'inf.bob4'}", "format=bob4") == 2
        err = one_line(capsys)
        assert f"inf.bob4:{k + 1}: the score '{value}' is infinite" in err
    g = (exported / "1_genuine.txt").read_text().splitlines()
    (tmp_path / "g.txt").write_text("\n".join(g[:2] + ["-inf"] + g[3:]) + "\n")
    assert score_run(tmp_path, f"scores=[{tmp_path / 'g.txt'},{exported / '1_impostor.txt'}]") == 2
    assert "g.txt:3: the score '-inf' is infinite" in one_line(capsys)
    # the Python API refuses it the same way
    from fr_eval import scores_table
    with pytest.raises(ValueError, match="infinite"):
        scores_table([0.5, np.inf], [0.1, 0.2])
    assert not (tmp_path / "r").exists()


def test_every_row_twice_is_refused_or_counted_once(exported, tmp_path, capsys):
    lines = bob_lines(exported)
    (tmp_path / "once.bob4").write_text("\n".join(lines) + "\n")
    (tmp_path / "twice.bob4").write_text("\n".join(lines + lines) + "\n")
    assert score_run(tmp_path, f"scores={tmp_path / 'twice.bob4'}", "format=bob4") == 2
    err = one_line(capsys)
    assert f"{len(lines)} comparison(s) are listed more than once" in err and "score_duplicates=drop" in err
    assert score_run(tmp_path, f"scores={tmp_path / 'once.bob4'}", "format=bob4", out="once") == 0
    assert score_run(tmp_path, f"scores={tmp_path / 'twice.bob4'}", "format=bob4", "score_duplicates=drop",
                     out="dropped") == 0
    once, dropped = (metrics(tmp_path / o) for o in ("once", "dropped"))
    for key in ("fnmr", "threshold", "n_genuine", "n_impostor", "intervals"):
        assert dropped["rows"][0][key] == once["rows"][0][key], key
    assert dropped["duplicates"] == {"checked": True, "policy": "drop", "n_repeated": len(lines)}
    assert f"{len(lines)} entries repeated an earlier (row, reference, probe) and were dropped" in \
        (tmp_path / "dropped" / "table3.md").read_text()
    # pyeer names no samples: said, not checked
    assert score_run(tmp_path, f"scores=[{exported / '1_genuine.txt'},{exported / '1_impostor.txt'}]", out="py") == 0
    assert metrics(tmp_path / "py")["duplicates"]["checked"] is False


def test_score_files_that_used_to_crash_are_one_line(exported, tmp_path, capsys):
    csv_text = gzip.decompress((exported / "comparisons.csv.gz").read_bytes()).decode()
    lines = bob_lines(exported)
    (tmp_path / "impostors_only.bob4").write_text("\n".join(ln for ln in lines if ln.split()[0] != ln.split()[1]) + "\n")
    (tmp_path / "empty.txt").write_text("")
    (tmp_path / "plain.csv.gz").write_text(csv_text)
    gzip.open(tmp_path / "latin.csv.gz", "wb").write(csv_text.replace(csv_text.split(",")[9][:3], "Jos\xe9", 1)
                                                     .encode("latin-1"))
    (tmp_path / "semi.csv").write_text(csv_text.replace(",", ";"))
    comma = csv_text.splitlines()
    cells = comma[4].split(",")
    comma[4] = ",".join(cells[:6] + [cells[6].replace(".", ",")])
    (tmp_path / "comma.csv").write_text("\n".join(comma) + "\n")
    cases = [
        ([f"scores={tmp_path / 'impostors_only.bob4'}", "format=bob4"], "the scores hold no genuine comparison"),
        ([f"scores=[{tmp_path / 'empty.txt'},{exported / '1_impostor.txt'}]"], "the pyeer genuine file holds no score"),
        ([f"scores={tmp_path / 'plain.csv.gz'}"], "is not a gzip file"),
        ([f"scores={tmp_path / 'latin.csv.gz'}"], "the text inside is not UTF-8 (byte 0xe9"),
        ([f"scores={tmp_path / 'semi.csv'}"], "the columns are separated by ';', not commas"),
        ([f"scores={tmp_path / 'comma.csv'}"], "comma.csv:5: 8 cells for 7 columns (a decimal comma?"),
    ]
    for args, expect in cases:
        assert score_run(tmp_path, *args) == 2, args
        err = one_line(capsys)
        assert expect in err and "Traceback" not in err, (args, err)
    bob = list(lines)
    bob[2] = " ".join(bob[2].split()[:3] + ["0,75"])
    (tmp_path / "comma.bob4").write_text("\n".join(bob) + "\n")
    assert score_run(tmp_path, f"scores={tmp_path / 'comma.bob4'}", "format=bob4") == 2
    assert "comma.bob4:3: the score '0,75' is not a number: it has a decimal comma" in one_line(capsys)
    assert not (tmp_path / "r").exists()


def test_a_genuine_row_without_subject_keeps_the_intervals(exported, tmp_path):
    text = gzip.decompress((exported / "comparisons.csv.gz").read_bytes()).decode().splitlines()
    k = next(i for i, ln in enumerate(text) if ",genuine," in ln)
    cells = text[k].split(",")
    cells[5] = ""
    text[k] = ",".join(cells)
    (tmp_path / "one_unnamed.csv").write_text("\n".join(text) + "\n")
    assert score_run(tmp_path, f"scores={tmp_path / 'one_unnamed.csv'}") == 0
    row = metrics(tmp_path / "r")["rows"][0]
    n_gen = row["n_genuine"]
    assert row["n_genuine_without_subject"] == 1 and row["fnmr"] == 0.0
    # rule of 3 over the subjects the genuine comparisons name (the unnamed one is no unit)
    named = {ln.split(",")[5] for ln in text if ",genuine," in ln} - {""}
    assert n_gen > len(named) >= 3 and row["intervals"]["fnmr"]["high"] == pytest.approx(3 / len(named))
    assert "1 do not and are left out of the intervals, not of the rates" in (tmp_path / "r" / "table3.md").read_text()


def test_reversed_scores_are_warned(exported, tmp_path, capsys):
    g, i = exported / "1_genuine.txt", exported / "1_impostor.txt"
    assert score_run(tmp_path, f"scores=[{i},{g}]") == 0  # the two files in the wrong order
    err = capsys.readouterr().err
    assert "the scores look reversed" in err and "the two pyeer files in the wrong order" in err
    m = metrics(tmp_path / "r")
    assert m["rows"][0]["fnmr"] > 0.9 and "the scores look reversed" in m["warnings"][0]
    assert "the scores look reversed" in (tmp_path / "r" / "report.html").read_text()
    assert score_run(tmp_path, f"scores={exported / '1.bob4'}", "format=bob4", "score_kind=distance", out="d") == 0
    assert "similarities read as distances? (score_kind=distance" in capsys.readouterr().err
    assert score_run(tmp_path, f"scores=[{g},{i}]", out="right") == 0
    assert metrics(tmp_path / "right")["warnings"] == []


# -- embedding files ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def embedded(clean, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("emb")
    assert run(tmp, clean[0] / "data", "report.export_embeddings=true", store=str(clean[0] / "s")) == 0
    return dict(np.load(tmp / "r" / "embeddings.npz"))


def test_bad_embedding_files_are_one_line(embedded, tmp_path, capsys):
    import pyarrow as pa
    import pyarrow.parquet as pq

    z = embedded
    n = len(z["sample"])
    dup = z["sample"].copy()
    dup[5] = dup[4]
    nan, zero = z["embedding"].copy(), z["embedding"].copy()
    nan[2, 7] = np.nan
    zero[3] = 0.0
    files = {"dup": {"sample": dup}, "short": {"embedding": z["embedding"][:-3]}, "nan": {"embedding": nan},
             "zero": {"embedding": zero}, "onedim": {"embedding": z["embedding"][:, :1]}}
    expect = {"dup": f"sample {z['sample'][4]} (variant original) appears more than once (entries 5 and 6)",
              "short": f"the columns have different lengths (sample {n}, subject {n}, role {n}, variant {n}, "
                       f"embedding {n - 3}",
              "nan": "entry 3 (", "zero": "entry 4 (", "onedim": "the vectors have 1 component(s); fr-eval takes at least 8"}
    for name, change in files.items():
        np.savez(tmp_path / f"{name}.npz", **{**z, **change})
        assert main(["scenario=1", f"embeddings={tmp_path / name}.npz", f"out_dir={tmp_path / 'r'}"]) == 2
        err = one_line(capsys)
        assert expect[name] in err, (name, err)
    assert "1 of its 128 components are NaN or infinite" in main_err(tmp_path, "nan.npz", capsys)
    assert "is all zeros" in main_err(tmp_path, "zero.npz", capsys)
    emb = [list(map(float, v)) for v in z["embedding"]]
    emb[4] = emb[4][:-1]
    pq.write_table(pa.table({k: z[k] for k in ("sample", "subject", "role", "variant")} | {"embedding": emb}),
                   tmp_path / "ragged.parquet")
    assert main(["scenario=1", f"embeddings={tmp_path / 'ragged.parquet'}", f"out_dir={tmp_path / 'r'}"]) == 2
    assert "entry 5 (" in (err := one_line(capsys)) and "has 127 components, entry 1 has 128" in err
    assert not (tmp_path / "r").exists()


def main_err(tmp_path, name, capsys) -> str:
    assert main(["scenario=1", f"embeddings={tmp_path / name}", f"out_dir={tmp_path / 'r'}"]) == 2
    return one_line(capsys)


def test_a_low_d_prime_is_warned(embedded, tmp_path):
    """Embeddings that carry no identity (shuffled across samples): d' < 0.5 is said on the page."""
    z = dict(embedded)
    z["embedding"] = np.random.default_rng(0).normal(size=z["embedding"].shape).astype(np.float32)
    np.savez(tmp_path / "noise.npz", **z)
    assert main(["scenario=1", f"embeddings={tmp_path / 'noise.npz'}", f"out_dir={tmp_path / 'r'}"]) == 0
    m = metrics(tmp_path / "r")
    assert m["rows"][0]["d_prime"] < 0.5 and any("barely separate" in w or "look reversed" in w for w in m["warnings"])


# -- replays, out_dir, compare, manifests -------------------------------------------------------------
def test_replay_keeps_the_resolved_system_and_checks_its_models(clean, tmp_path, capsys):
    import yaml
    tmp, _, base = clean
    assert main(["scenario=1", "dataset=folder", f"dataset.root={tmp / 'data'}", f"out_dir={tmp_path / 'a'}",
                 f"store_dir={tmp / 's'}", "progress=false", "workers=1", "bootstrap.n_resamples=50"]) == 0
    saved = yaml.safe_load((tmp_path / "a" / "config.yaml").read_text())
    # offline, system=auto fell back to SFace: the config says sface, with its model files' sha256
    assert saved["system"]["name"] == "sface" and saved["system_resolved_from"] == "auto"
    roles = {m["role"]: m["sha256"] for m in saved["recorded_models"]["sface"]}
    assert set(roles) == {"detector", "recogniser"} and all(len(s) == 64 for s in roles.values())
    assert main(["--replay", str(tmp_path / "a" / "config.yaml"), f"out_dir={tmp_path / 'b'}"]) == 0
    assert metrics(tmp_path / "b")["rows"][0]["threshold"] == base["threshold"]
    capsys.readouterr()
    # a replay on other model files stops, or runs and says so
    text = (tmp_path / "a" / "config.yaml").read_text().replace(roles["recogniser"], "deadbeef" * 8)
    (tmp_path / "changed.yaml").write_text(text)
    assert main(["--replay", str(tmp_path / "changed.yaml"), f"out_dir={tmp_path / 'c'}"]) == 2
    err = one_line(capsys)
    assert "the model files differ from the run's" in err and "deadbeefdead... recorded" in err
    assert f"sha256 {roles['recogniser'][:12]}... now" in err and "--replay-allow-model-change" in err
    assert main(["--replay", str(tmp_path / "changed.yaml"), f"out_dir={tmp_path / 'd'}",
                 "--replay-allow-model-change"]) == 0
    assert "warning: replayed with other model files" in capsys.readouterr().err
    m = metrics(tmp_path / "d")
    assert "replayed with other model files" in m["warnings"][0]
    assert "replayed with other model files" in (tmp_path / "d" / "report.html").read_text()
    # a damaged config.yaml is one line
    whole = (tmp_path / "a" / "config.yaml").read_text()
    for name, content in (("cut.yaml", whole[:300]), ("bad.yaml", "dataset:\n  name: x\nsyst"),
                          ("list.yaml", "- 1\n- 2\n")):
        (tmp_path / name).write_text(content)
        assert main(["--replay", str(tmp_path / name), f"out_dir={tmp_path / 'e'}"]) == 2
        assert "not a readable fr-eval config.yaml" in one_line(capsys)


def test_an_existing_report_is_not_replaced(clean, tmp_path, capsys):
    tmp = clean[0]
    assert run(tmp_path, tmp / "data", store=str(tmp / "s")) == 0
    before = (tmp_path / "r" / "metrics.json").read_text()
    assert run(tmp_path, tmp / "data", "fmr=0.01", store=str(tmp / "s")) == 2
    assert "already holds a report (metrics.json); give another out_dir, or overwrite=true" in one_line(capsys)
    assert (tmp_path / "r" / "metrics.json").read_text() == before
    assert run(tmp_path, tmp / "data", "fmr=0.01", "overwrite=true", store=str(tmp / "s")) == 0
    assert metrics(tmp_path / "r")["config"]["fmr"] == 0.01


def test_compare_refuses_reports_on_different_images(clean, tmp_path, capsys):
    tmp = clean[0]
    other = tmp_path / "other"
    copy_subjects(other, SIX + 2)
    assert run(tmp_path, other, out="b", store=str(tmp / "s")) == 0
    a = tmp / "r"
    assert main(["compare", str(a), str(tmp_path / "b"), f"out_dir={tmp_path / 'c'}"]) == 2
    assert "the reports were made on different images (content digests" in one_line(capsys)
    assert main(["compare", str(a), str(tmp_path / "b"), f"out_dir={tmp_path / 'c'}",
                 "allow_different_data=true"]) == 0
    assert "WARNING: the reports were made on different images" in (tmp_path / "c" / "report.html").read_text()
    # the same images (another copy of the folder): compared without a word
    same = tmp_path / "same"
    copy_subjects(same)
    assert run(tmp_path, same, out="a2", store=str(tmp / "s")) == 0
    assert main(["compare", str(a), str(tmp_path / "a2"), f"out_dir={tmp_path / 'c2'}"]) == 0
    assert metrics(tmp / "r")["dataset"]["settings"]["content_digest"] == \
        metrics(tmp_path / "a2")["dataset"]["settings"]["content_digest"]


def test_manifest_paths_outside_its_folder_are_not_opened(tmp_path):
    root = need(LFW_SMALL)
    people = sorted(p for p in root.iterdir())[:3]
    (tmp_path / "faces").mkdir()
    rows = ["path,identity,role,method"]
    for p in people:
        f = sorted(p.glob("*.jpg"))
        shutil.copy(f[0], tmp_path / "faces" / f[0].name)
        shutil.copy(f[1], tmp_path / "faces" / f[1].name)
        rows += [f"faces/{f[0].name},{p.name},reference,", f"faces/{f[1].name},{p.name},generated,photo"]
    rows.append(f"../../../../../../../../etc/passwd,{people[0].name},generated,photo")
    rows.append(f"{f[2]},{people[2].name},generated,photo")  # an absolute path outside the folder
    (tmp_path / "m.csv").write_text("\n".join(rows) + "\n")
    args = ["scenario=generated", f"generated.manifest={tmp_path / 'm.csv'}", "system=sface", "progress=false",
            f"store_dir={tmp_path / 's'}", "bootstrap.n_resamples=50"]
    assert main([*args, f"out_dir={tmp_path / 'r'}"]) == 0
    m = metrics(tmp_path / "r")
    outside = [p for p in m["problems"] if p["kind"] == "path outside the manifest's folder"]
    assert len(outside) == 2 and "generated.allow_outside=true allows it" in outside[0]["detail"]
    assert m["overall"]["n"] == 3
    assert main([*args, "generated.allow_outside=true", f"out_dir={tmp_path / 'r2'}"]) == 0
    m2 = metrics(tmp_path / "r2")
    assert m2["overall"]["n"] == 5 and m2["overall"]["n_failed"] == 1  # /etc/passwd opened: not an image


def test_a_generator_with_no_face_at_all_is_a_result(tmp_path):
    """Five references and five blank images: FTA 100 %, verified 0 %, ranked last; a manifest whose every
    generated image fails is a report too."""
    root = need(LFW_SMALL)
    (tmp_path / "faces").mkdir()
    rows, blank_rows = ["path,identity,role,method"], []
    for p in sorted(q for q in root.iterdir())[:5]:
        f = sorted(p.glob("*.jpg"))
        shutil.copy(f[0], tmp_path / "faces" / f[0].name)
        shutil.copy(f[1], tmp_path / "faces" / f[1].name)
        Image.fromarray(np.full((256, 256, 3), 255, np.uint8)).save(tmp_path / "faces" / f"{p.name}_blank.png")
        rows.append(f"faces/{f[0].name},{p.name},reference,")
        blank_rows.append(f"faces/{p.name}_blank.png,{p.name},generated,blank")
        rows.append(f"faces/{f[1].name},{p.name},generated,photo")
    (tmp_path / "m.csv").write_text("\n".join(rows + blank_rows) + "\n")
    (tmp_path / "blank.csv").write_text("\n".join(rows[:1] + [r for r in rows if ",reference," in r] + blank_rows) + "\n")
    args = ["scenario=generated", "system=sface", "progress=false", f"store_dir={tmp_path / 's'}",
            "bootstrap.n_resamples=50", "generated.min_per_method=2", "report.min_subjects=2"]
    assert main([*args, f"generated.manifest={tmp_path / 'm.csv'}", f"out_dir={tmp_path / 'r'}"]) == 0
    methods = metrics(tmp_path / "r")["groups"]["method"]
    assert [g["value"] for g in methods] == ["photo", "blank"]
    blank = methods[1]
    assert (blank["fta"], blank["verified_rate_of_all"], blank["n_failed"]) == (1.0, 0.0, 5)
    assert main([*args, f"generated.manifest={tmp_path / 'blank.csv'}", f"out_dir={tmp_path / 'r2'}"]) == 0
    overall = metrics(tmp_path / "r2")["overall"]
    assert overall["fta"] == 1.0 and overall["n_verified"] == 0


# -- values Hydra cannot read, names too long, the API, Ctrl-C ---------------------------------------
@pytest.mark.parametrize("value", ["r\u00fc", "r(1)"])
def test_out_dir_that_needs_quoting_says_how(value, tmp_path, capsys):
    arg = f"out_dir={tmp_path / value}"
    assert main([arg]) == 2
    err = one_line(capsys)
    assert f"{arg}: Hydra cannot read this value" in err and f"\"out_dir='{tmp_path / value}'\"" in err
    assert main([f"out_dir='{tmp_path / value}'", "--cfg"]) == 0
    assert f"out_dir: {tmp_path / value}" in capsys.readouterr().out


def test_a_folder_name_too_long_is_one_line(tmp_path, capsys):
    assert main([f"out_dir={tmp_path / ('a' * 300)}"]) == 2
    assert "is 300 bytes; names are limited to" in one_line(capsys)
