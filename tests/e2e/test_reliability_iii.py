"""The third outside probe (issue 36), kept as tests: a fault of fr-eval is said as one (exit 3, its traceback in
error.log), headers with spaces after the commas read as without, float images scaled from the range they
occupy, attribute files with one group or with names that differ from the folders', an embedding file with an
unknown variant, a manifest whose references were all set aside, several systems with a colouriser override,
and every CSV of the three run kinds one number per cell."""
import gzip
import re

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from fr_eval.cli import main

from conftest import DET_500M, LFW_SMALL, MOBILEFACENET, SHARED, need
from e2e.test_reliability import clean, embedded, exported, metrics, one_line, run  # noqa: F401  (module fixtures)


# -- a fault of fr-eval is never printed as the user's mistake ------------------------------------------
def test_a_fault_is_exit_3_with_its_traceback_in_error_log(clean, tmp_path, capsys, monkeypatch):  # noqa: F811
    import fr_eval.report as report

    def broken(*a, **k):
        raise IndexError("list index out of range (planted)")

    monkeypatch.setattr(report, "write_report", broken)  # a bug in the page writer
    code = run(tmp_path, clean[0] / "data", store=str(clean[0] / "s"))
    err = one_line(capsys)
    assert code == 3 and "a fault of fr-eval, not of your input (IndexError: list index out of range (planted))" in err
    log = tmp_path / "r" / "error.log"
    assert f"the traceback is in {log}" in err and "every acquisition committed to the store" in err
    text = log.read_text()
    assert "Traceback (most recent call last)" in text and "raise IndexError" in text and "command:" in text
    # the folder holds only error.log: the next run may write its report there
    monkeypatch.undo()
    assert run(tmp_path, clean[0] / "data", store=str(clean[0] / "s")) == 0
    assert not log.exists() and (tmp_path / "r" / "metrics.json").is_file()


# -- one CSV reader: header names without their spaces -----------------------------------------------------
def test_score_header_with_spaces_after_commas(exported, tmp_path):  # noqa: F811
    """``row,kind,reference, probe,...``: the same figures as the clean header, and repeated comparisons
    still found (before: subjects and duplicates silently switched off, another threshold)."""
    text = gzip.decompress((exported / "comparisons.csv.gz").read_bytes()).decode()
    head, body = text.split("\n", 1)
    (tmp_path / "clean.csv").write_text(text)
    (tmp_path / "spaced.csv").write_text(head.replace(",", ", ") + "\n" + body)
    assert main([f"scores={tmp_path / 'clean.csv'}", f"out_dir={tmp_path / 'a'}", "bootstrap.n_resamples=50"]) == 0
    assert main([f"scores={tmp_path / 'spaced.csv'}", f"out_dir={tmp_path / 'b'}", "bootstrap.n_resamples=50"]) == 0
    a, b = metrics(tmp_path / "a"), metrics(tmp_path / "b")
    assert a["rows"] == b["rows"] and a["duplicates"] == b["duplicates"] and b["duplicates"]["checked"] is True
    twice = head.replace(",", ", ") + "\n" + body + body
    (tmp_path / "twice.csv").write_text(twice)
    assert main([f"scores={tmp_path / 'twice.csv'}", f"out_dir={tmp_path / 'c'}"]) == 2


# -- images ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("scale", [1.0 / 255.0, 1.0, 257.0])
def test_float_and_wide_integer_images_keep_their_face(scale, tmp_path):
    """A float TIFF of 0..1 (before: black, no face), of 0..255, and one wider than 8 bits: the same grey image
    as the 8-bit photo (within rounding)."""
    from fr_eval.images import load_image
    src = sorted(need(LFW_SMALL).rglob("*.jpg"))[0]
    grey = np.asarray(Image.open(src).convert("L"), np.float64)
    Image.fromarray((grey * scale).astype(np.float32), mode="F").save(tmp_path / "f.tif")
    got = load_image(tmp_path / "f.tif")[:, :, 0].astype(np.float64)
    if scale > 255 / grey.max():  # wider than 8 bits: stretched from its own minimum to its maximum
        grey = (grey - grey.min()) / (grey.max() - grey.min()) * 255
    assert np.abs(got - grey).max() <= 1.0
    bad = (grey * scale).astype(np.float32)
    bad[0, 0] = np.nan
    Image.fromarray(bad, mode="F").save(tmp_path / "nan.tif")
    from fr_eval.images import ImageLoadError
    with pytest.raises(ImageLoadError, match="NaN or infinite"):
        load_image(tmp_path / "nan.tif")


# -- differentials with attribute files -----------------------------------------------------------------------
def test_one_group_and_a_group_of_one(clean, tmp_path, capsys):  # noqa: F811
    """Every subject in one group, and groups of 1 and 5 (before: IndexError, no report): the report is written,
    the ratios n/a; names written with spaces match the folders' underscores, and the page says so."""
    tmp, names, _ = clean
    (tmp_path / "one.csv").write_text("subject,team\n" + "".join(f"{n},a\n" for n in names))
    (tmp_path / "two.csv").write_text("subject,team\n" + "".join(
        f"{n.replace('_', ' ')},{'b' if i == 0 else 'a'}\n" for i, n in enumerate(names)))
    for f in ("one", "two"):
        assert run(tmp_path, tmp / "data", "report.differentials=true", f"dataset.attributes={tmp_path / f}.csv",
                   "differentials.by=[team]", "differentials.fidelity=false", "scenario=[1,3]", out=f,
                   store=str(tmp / "s")) == 0
    one = metrics(tmp_path / "one")["differentials"]
    assert one["attributes"]["team"]["subjects"] == {"a": 6} and np.isnan(one["rows"]["team"][0]["indices"]["garbe"] or np.nan)
    two = metrics(tmp_path / "two")
    assert two["differentials"]["attributes"]["team"]["subjects"] == {"a": 5, "b": 1}
    assert any("matched with spaces and underscores taken alike" in w for w in two["warnings"])
    table = pd.read_csv(tmp_path / "two" / "differentials_team.csv")
    assert pd.api.types.is_numeric_dtype(table["FNMR (%)"]) and table["FMR / lowest"].isna().all()
    capsys.readouterr()
    (tmp_path / "none.csv").write_text("subject,team\nNobody Here,a\n")
    assert run(tmp_path, tmp / "data", "report.differentials=true", f"dataset.attributes={tmp_path / 'none.csv'}",
               "differentials.by=[team]", out="none", store=str(tmp / "s")) == 2
    assert "names none of the run's 6 subjects" in one_line(capsys)


# -- embedding files -----------------------------------------------------------------------------------------------
def test_an_unknown_variant_is_named(embedded, tmp_path, capsys):  # noqa: F811
    z = dict(embedded)
    z["variant"] = np.array(["Original"] * len(z["variant"]))
    np.savez(tmp_path / "e.npz", **z)
    assert main(["scenario=1", f"embeddings={tmp_path / 'e.npz'}", f"out_dir={tmp_path / 'r'}"]) == 2
    assert "variant 'Original' is not known" in one_line(capsys)


# -- manifests --------------------------------------------------------------------------------------------------------
def test_references_set_aside_are_named(tmp_path, capsys):
    """Every role=reference row outside the manifest's folder: the error names why, not 'no row with
    role=reference'."""
    small = need(LFW_SMALL)
    people = sorted(p for p in small.iterdir() if p.is_dir())[:3]
    (tmp_path / "m").mkdir()
    gen = tmp_path / "m" / "g.jpg"
    gen.write_bytes(sorted(people[0].glob("*.jpg"))[3].read_bytes())
    rows = ["path,identity,role,method", f"g.jpg,{people[0].name},generated,x"]
    rows += [f"{f},{p.name},reference," for p in people for f in sorted(p.glob("*.jpg"))[:1]]
    (tmp_path / "m" / "manifest.csv").write_text("\n".join(rows) + "\n")
    assert main(["scenario=generated", f"generated.manifest={tmp_path / 'm' / 'manifest.csv'}", "system=sface",
                 f"out_dir={tmp_path / 'r'}", f"store_dir={tmp_path / 's'}"]) == 2
    err = one_line(capsys)
    assert "every row with role=reference was set aside" in err and "3 path outside the manifest's folder" in err


# -- several systems with a colouriser override -----------------------------------------------------------------------
def test_several_systems_with_a_colouriser_override(tmp_path):
    """``system=[sface,arcface] colouriser=exemplar`` (before: both systems ran, then 'str is not a ListConfig')."""
    small = need(LFW_SMALL)
    out = tmp_path / "r"
    assert main(["scenario=[1,4]", f"dataset.root={small}", "dataset.limit_subjects=6", "system=[sface,arcface]",
                 f"system.arcface.detector={need(DET_500M)}", f"system.arcface.recogniser={need(MOBILEFACENET)}",
                 "colouriser=exemplar", f"out_dir={out}", f"store_dir={tmp_path / 's'}", "progress=false",
                 "bootstrap.n_resamples=50"]) == 0
    m = metrics(out)
    assert list(m["systems"]) == ["sface", "arcface"] and m["config"]["colouriser"] == ["exemplar"]
    assert [r["Scenario"] for r in pd.read_csv(out / "table3.csv", dtype=str).to_dict("records")] == \
        ["1", "4 [exemplar]"] * 2
    assert "colouriser:\n- exemplar" in (out / "report.html").read_text()


RATE = re.compile(r"(%|points|\blow$|\bhigh$|rate|fnmr|fmr|frr|fta|fpir|fnir|verified|similarity|garbe|fdr|d'|"
                  r"threshold|csim|ssim|ita|count$| of$)", re.I)


TEXT = re.compile(r"( flag$| note$|reason|source|rule|label|method|verdict|status|finding|figure|file|path|"
                  r"supported|^rate$|^row)", re.I)


def assert_machine_readable(folder):
    """Every CSV of a report: each rate column numeric (pandas reads it as numbers), no cell with an interval,
    a dagger or a formula guard before a number."""
    checked = 0
    for f in sorted(folder.rglob("*.csv")):
        df = pd.read_csv(f)
        for c in df.columns:
            values = df[c].dropna()
            if RATE.search(str(c)) and not TEXT.search(str(c)) and len(values):
                assert pd.api.types.is_numeric_dtype(df[c]), (f.name, c, list(values.astype(str))[:3])
                checked += 1
            if values.dtype == object:
                bad = [v for v in values.astype(str) if re.match(r"^'?[-+]?\d[\d.]* \[", v) or re.match(r"^'[-+\d]", v)]
                assert not bad, (f.name, c, bad[:3])
    return checked


@pytest.mark.slow
def test_every_csv_of_the_three_run_kinds_is_machine_readable(tmp_path):
    small = need(LFW_SMALL)
    manifest = need(SHARED / "data/generated/manifest.csv")
    common = ["system=sface", f"store_dir={tmp_path / 's'}", "progress=false", "bootstrap.n_resamples=50"]
    assert main(["scenario=all", f"dataset.root={small}", "report.differentials=true", f"out_dir={tmp_path / 'v'}",
                 *common]) == 0
    assert main(["scenario=all", f"dataset.root={small}", "protocol=identification", f"out_dir={tmp_path / 'i'}",
                 *common]) == 0
    assert main(["scenario=generated", f"generated.manifest={manifest}", f"out_dir={tmp_path / 'a'}", *common]) == 0
    counts = {k: assert_machine_readable(tmp_path / k) for k in ("v", "i", "a")}
    assert min(counts.values()) >= 10, counts
    paired = pd.read_csv(tmp_path / "v" / "paired.csv")
    assert {"FRR 95% CI (subjects) low", "FRR 95% CI (subjects) high", "Rejected by b only",
            "Rejected by a only"} <= set(paired.columns)
    methods = pd.read_csv(tmp_path / "a" / "generated_methods.csv")
    ceiling = methods[methods["Method"] == "(real photos, each left out)"]  # the real-photo ceiling, read as a method
    assert len(ceiling) == 1 and ceiling["Verified of all (%)"].iloc[0] >= 90 and ceiling["Identities"].iloc[0] >= 10
    # real photos of one person move in skin tone too: the ceiling's ITA shift is measured, with its interval
    shift = [c for c in methods.columns if c.startswith("ITA shift")]
    assert shift and np.isfinite(float(ceiling[shift[0]].iloc[0]))
    # the scene-copy rule flags the reference-driven expression edits that keep their input's background
    copies = pd.read_csv(tmp_path / "a" / "generated_copy.csv").set_index("Method")
    scene = copies["Scene-copy rate (%)"]
    assert scene["arc2face_expadapter"] > 0 and (scene.drop("arc2face_expadapter").fillna(0) == 0).all()
    images = pd.read_csv(tmp_path / "a" / "generated_images.csv", dtype=str)
    assert not images["path"].str.startswith("/").any()  # the manifest's relative paths, as written


def test_a_bad_override_is_still_the_users_one_line(capsys, tmp_path):
    assert main(["scenario=9", f"out_dir={tmp_path / 'r'}"]) == 2
    assert "scenario" in one_line(capsys) and not (tmp_path / "r").exists()
