import pytest

from fr_eval.datasets.lfw import load_lfw_people, parse_pairs, resolve_pairs
from fr_eval.errors import FrEvalError

from conftest import SHARED, need


PAIRS = SHARED / "data/lfw/protocol/pairs.txt"


def test_parse_view2_pairs_and_missing():
    pairs = parse_pairs(need(PAIRS))
    assert len(pairs) == 6000 and {p.fold for p in pairs} == set(range(10))
    assert sum(p.same for p in pairs) == 3000
    first = pairs[0]
    assert first.same and first.rel(1) == "Abel_Pacheco/Abel_Pacheco_0001.jpg" and first.rel(2).endswith("_0004.jpg")
    assert pairs[300].same is False and pairs[300].line == 302
    root = need(SHARED / "data/lfw/deepfunneled_min20")
    present, missing = resolve_pairs(pairs, root)
    assert len(present) + len(missing) == 6000 and missing  # the subset lacks most View-2 images
    assert all(not (root / m).is_file() for x in missing for m in x["missing"])
    assert all((root / p.rel(1)).is_file() and (root / p.rel(2)).is_file() for p in present)


def test_lfw_people_mode(lfw_small, tmp_path):
    ds = load_lfw_people(lfw_small, min_images=4)
    assert len(ds.references) == 30 and len(ds.probes) == 90 and ds.settings["mode"] == "people"
    import shutil
    root = tmp_path / "lfw"
    shutil.copytree(lfw_small / sorted(p.name for p in lfw_small.iterdir())[0], root / "Someone")
    ds = load_lfw_people(root, min_images=2)
    assert not ds.references and len(ds.ignored) == 4  # files not named after their folder


def test_lfw_dataset_from_the_command_line(lfw_small, tmp_path, capsys):
    import json

    from fr_eval.cli import main
    out = tmp_path / "r"
    assert main(["dataset=lfw", f"dataset.root={lfw_small}", "dataset.min_images=4", "scenario=1", "system=sface",
                 f"out_dir={out}", f"store_dir={tmp_path / 's'}", "progress=false",
                 "bootstrap.n_resamples=100"]) == 0
    m = json.loads((out / "metrics.json").read_text())
    assert m["table1"]["subjects"] == 30 and m["dataset"]["settings"]["mode"] == "people"
    assert main(["dataset=lfw", "dataset.mode=nope", f"out_dir={tmp_path / 'r_mode'}"]) == 2
    assert "dataset.mode=nope is not valid: choose from people, pairs" in capsys.readouterr().err
    # the shared subset keeps matched View-2 pairs only: said before any image is processed
    assert main(["dataset=lfw", "dataset.mode=pairs", f"out_dir={tmp_path / 'r_pairs'}", f"store_dir={tmp_path / 'e'}"]) == 2
    err = capsys.readouterr().err
    assert "none of the protocol's mismatched pairs is present (250 matched pairs are)" in err
    assert "acquiring" not in err


def write_pairs(path, people, missing_name="Nobody_Here"):
    """2 folds x (3 matched + 3 mismatched) pairs over ``people`` (>= 6 names with 4 images),
    one matched pair naming a person absent from the tree."""
    lines = ["2\t3"]
    for fold in range(2):
        ps = people[fold * 3:(fold + 1) * 3]
        lines += [f"{p}\t1\t{2 + fold}" for p in ps[:2]] + [f"{missing_name}\t1\t2"] * (fold == 0) \
            + [f"{ps[2]}\t1\t3"] * (fold == 1)
        lines += [f"{ps[i]}\t{3 + fold}\t{ps[(i + 1) % 3]}\t4" for i in range(3)]
    path.write_text("\n".join(lines) + "\n")


def test_lfw_pairs_loader(lfw_small, tmp_path):
    from fr_eval.datasets import load_dataset
    from fr_eval.protocol import build_comparisons

    people = sorted(p.name for p in lfw_small.iterdir())[:6]
    write_pairs(tmp_path / "pairs.txt", people)
    cfg = {"type": "lfw", "mode": "pairs", "root": str(lfw_small), "pairs": str(tmp_path / "pairs.txt")}
    ds = load_dataset(cfg)
    st = ds.settings
    assert (st["pairs_in_file"], st["pairs_present"], st["pairs_missing"]) == (12, 11, 1)
    assert (st["matched_present"], st["mismatched_present"], st["mismatched_filled"]) == (5, 6, 0)
    assert ds.problems == [{"kind": "pair with a missing image", "where": "pairs.txt:4",
                            "detail": "fold 1 matched: Nobody_Here/Nobody_Here_0001.jpg, "
                                      "Nobody_Here/Nobody_Here_0002.jpg not found"}]
    c = build_comparisons(ds)
    assert len(c.genuine) == 5 and len(c.impostor) == 6 and c.impostor_rule == "protocol pairs"
    assert c.genuine_folds.tolist() == [0, 0, 1, 1, 1] and c.impostor_folds.tolist() == [0, 0, 0, 1, 1, 1]
    rels = [(ds.references[r].rel, ds.probes[p].rel) for r, p in c.genuine]
    assert rels[0] == (f"{people[0]}/{people[0]}_0001.jpg", f"{people[0]}/{people[0]}_0002.jpg")
    # filling: balanced per fold, seeded, all cross-person, flagged
    fill = load_dataset({**cfg, "fill_mismatched": "balanced", "seed": 1})
    filled = [p for p in fill.pairs if p.origin == "filled"]
    assert [sum(p.fold == k for p in filled) for k in (0, 1)] == [2, 3]
    assert all(p.rel1.split("/")[0] != p.rel2.split("/")[0] and not p.same for p in filled)
    assert filled == [p for p in load_dataset({**cfg, "fill_mismatched": "balanced", "seed": 1}).pairs
                      if p.origin == "filled"]
    assert "NOT the LFW protocol" in fill.settings["protocol"]
    assert build_comparisons(fill).impostor_filled.sum() == 5
    with pytest.raises(FrEvalError, match="1 problem"):
        load_dataset({**cfg, "strict": True})
    assert load_dataset({"type": "lfw", "mode": "pairs", "root": str(lfw_small)}).settings["pairs_file"].endswith(
        "protocol/pairs.txt")  # found in the sibling protocol/ folder
    (tmp_path / "alone" / "lfw" / people[0]).mkdir(parents=True)
    with pytest.raises(FrEvalError, match="no pairs.txt found"):
        load_dataset({"type": "lfw", "mode": "pairs", "root": str(tmp_path / "alone" / "lfw")})


def test_lfw_pairs_from_the_command_line(lfw_small, tmp_path):
    import csv
    import json

    from fr_eval.cli import main
    people = sorted(p.name for p in lfw_small.iterdir())[:6]
    write_pairs(tmp_path / "pairs.txt", people)
    out = tmp_path / "r"
    assert main(["dataset=lfw", "dataset.mode=pairs", f"dataset.root={lfw_small}",
                 f"dataset.pairs={tmp_path / 'pairs.txt'}", "scenario=[1,2]", "system=sface", f"out_dir={out}",
                 f"store_dir={tmp_path / 's'}", "progress=false", "bootstrap.n_resamples=50",
                 "report.breakdown=[fold]"]) == 0
    m = json.loads((out / "metrics.json").read_text())
    assert m["table1"] == {"dataset": "lfw", "subjects": 6, "references": 11, "probes": 11, "genuine": 5,
                           "impostor": 6}
    acc = m["rows"][0]["pairs_accuracy"]
    assert acc["available"] and acc["n_pairs"] == 11 and acc["n_mismatched_filled"] == 0
    assert len(acc["fold_accuracy"]) == 2 and acc["mean"] == pytest.approx(sum(acc["fold_accuracy"]) / 2)
    assert acc["mean"] >= 10 / 11 - 1e-9  # SFace separates these pairs (at most one error per fold)
    with open(out / "pairs_accuracy.csv") as f:
        assert [r["Scenario"] for r in csv.DictReader(f)] == ["1", "2"]
    bd = m["rows"][0]["breakdown"]["fold"]
    assert [(g["value"], g["n_attempts"]) for g in bd] == [("1", 2), ("2", 3)]
    assert "pairs.txt:4" in (out / "metrics.json").read_text()  # the missing pair is named
