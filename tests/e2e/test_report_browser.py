"""report.html of a scenario run (with quality and DET bands), of the generated-faces audit and of a
score import, loaded in a real browser: Debian's Chromium, driven by Playwright (no browser build is
downloaded). Every image decoded, every internal anchor resolves, every file link exists, no console
error, a region's screenshot is not blank, click-to-enlarge works, the config sits in a closed
details element as YAML."""
import io
import json
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from generated_faces import build_manifest

CHROMIUM = os.environ.get("FR_EVAL_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        pytest.skip("no Chromium on PATH (Debian: apt-get install chromium; or set FR_EVAL_CHROMIUM)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture(scope="module")
def scenario_report(tmp_path_factory, request):
    from conftest import LFW_SMALL, need
    from fr_eval.cli import main

    root = need(LFW_SMALL)
    out = tmp_path_factory.mktemp("browser") / "r"
    assert main(["scenario=all", "system=sface", f"dataset.root={root}", f"out_dir={out}", "progress=false",
                 f"store_dir={out.parent / 's'}", "quality=[sharpness,exposure]", "report.det_bands=true",
                 "bootstrap.n_resamples=100", "report.differentials=true"]) == 0
    return out


def load(browser, path: Path):
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    return page, errors


def check_page(page, errors, out: Path) -> dict:
    """What every report page must do in a browser; returns facts for the caller's own checks."""
    images = page.evaluate("Array.from(document.images).map(i => [i.alt, i.complete, i.naturalWidth])")
    assert images and all(complete and width > 0 for _, complete, width in images), images
    missing = page.evaluate("""Array.from(document.querySelectorAll('a[href^="#"]'))
        .map(a => a.getAttribute('href').slice(1)).filter(id => !document.getElementById(id))""")
    assert missing == []
    files = page.evaluate("""Array.from(document.querySelectorAll('a[href]')).map(a => a.getAttribute('href'))
        .filter(h => !h.startsWith('#'))""")
    assert files and all((out / f).is_file() for f in files), [f for f in files if not (out / f).is_file()]
    listed = page.evaluate("Array.from(document.querySelectorAll('#files td:first-child')).map(td => td.textContent)")
    on_disk = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file() and p.name != "report.html")
    assert sorted(listed) == on_disk  # every file of the folder is linked
    toc = page.evaluate("Array.from(document.querySelectorAll('nav.toc a')).map(a => a.getAttribute('href'))")
    sections = page.evaluate("Array.from(document.querySelectorAll('body > section')).map(s => '#' + s.id)")
    assert toc == sections
    captions = page.evaluate("Array.from(document.querySelectorAll('figure')).map(f => "
                             "f.querySelector('figcaption') ? f.querySelector('figcaption').textContent : '')")
    assert all(c.startswith("Figure ") and len(c) > 60 for c in captions), captions
    config = page.locator("details", has=page.locator("pre"))
    assert config.get_attribute("open") is None  # collapsed until asked
    # at 1280 px nothing makes the page scroll sideways, and no table, figure or block is wider than its
    # container: every column is on the screen (and on paper), none hidden behind a scroll bar
    page.set_viewport_size({"width": 1280, "height": 900})
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    wider = page.evaluate(WIDER_THAN_CONTAINER)
    page.set_viewport_size({"width": 1200, "height": 900})
    assert overflow <= 0 and wider == [], (overflow, wider)
    # no interval of zero width anywhere on the page (it would look surer than any data)
    text = page.inner_text("body")
    assert not ZERO_WIDTH.findall(text), ZERO_WIDTH.findall(text)[:3]
    assert errors == []
    return {"images": images, "files": files, "toc": toc}


#: elements wider than the element that holds them (tables, figures, code, lists, answers), at the current viewport
WIDER_THAN_CONTAINER = """Array.from(document.querySelectorAll('table, figure img, pre, dl.run, .answer, ul, p'))
    .filter(e => !e.closest('details'))
    .map(e => [e.tagName + (e.id ? '#' + e.id : ''), e.getBoundingClientRect().width,
               e.parentElement.getBoundingClientRect().width])
    .filter(([, w, p]) => w > p + 1)"""
#: "[x, x]": an interval whose two ends print alike
ZERO_WIDTH = re.compile(r"\[([-+\u2212]?\d+(?:\.\d+)?), \1\]")


def not_blank(png: bytes) -> float:
    """The fraction of pixels that are not (near) white in a screenshot."""
    from PIL import Image
    a = np.asarray(Image.open(io.BytesIO(png)).convert("L"), float)
    return float(np.mean(a < 200))


def test_scenario_report_in_a_browser(browser, scenario_report):
    out = scenario_report
    page, errors = load(browser, out / "report.html")
    facts = check_page(page, errors, out)
    m = json.loads((out / "metrics.json").read_text())
    # the headline: the run's facts, the stand-in said, Table 3's paper columns with intervals, the answer
    facts_text = page.locator("dl.run").inner_text()
    assert "scenario=all" in facts_text and m["environment"]["date"] in facts_text and "lfw_small" in facts_text
    assert "exemplar colour transfer [WAM02], a weight-free stand-in, not DeOldify" in page.locator(".standin").inner_text()
    head = page.locator("#headline")
    assert head.locator("th").all_inner_texts() == ["Scenario", "d'", "FTA (%)", "FNMR at FMR=0.1% (%)",
                                                    "FRR at FMR=0.1% (%)"]
    first = head.locator("tr").nth(1).locator("td").all_inner_texts()
    assert first[0] == "1" and first[1] == f"{m['rows'][0]['d_prime']:.3f}" and "[" in first[3]
    answers = page.locator(".answer li").all_inner_texts()
    assert [a.rstrip(".") for a in answers] == [c["sentence"][0].upper() + c["sentence"][1:]
                                               for c in m["paired_comparisons"]]
    assert {"#table3", "#paired", "#det", "#quality", "#edc", "#examples", "#files", "#details",
            "#differentials"} <= set(facts["toc"])
    diff = page.locator("#differentials")
    assert "skin_regions.png" in diff.inner_html() and "colour_fidelity_ita.png" in diff.inner_html()
    assert diff.locator("table").count() >= 5  # groups, GARBE/FDR, colourisation (2), colour fidelity
    assert {"det.pdf", "table3.csv", "paired.csv", "metrics.json", "config.yaml"} <= set(facts["files"])
    # EDC rows with false non-matches carry the areas' subject-bootstrap intervals, also in edc.csv
    failing = [r for r in m["edc"] if r["fnmr_at_0"] > 0]
    assert failing, "scenario=all on deepfunneled_small has rows with false non-matches"
    for r in failing:
        a, d = r["intervals"]["area"], r["intervals"]["area_minus_random"]
        assert a["method"] == "subject_bootstrap" and a["low"] <= r["area"] <= a["high"]
        assert d["low"] <= r["area_minus_random"] <= d["high"]
    import csv
    with open(scenario_report / "edc.csv") as f:
        lows = [row["Area minus random low"] for row in csv.DictReader(f)]
    assert sum(1 for x in lows if x) == len(failing)
    # the examples name each exemplar tile's colour source, another subject than the face's
    ex = m["colourisation_examples"]
    assert ex and all(t["variant"] == "colourised[exemplar]" and t["note"].startswith("colours of ")
                      and t["note"] != f"colours of {e['sample'].split(' (')[0]}"
                      for e in ex for t in e["tiles"][2:])
    assert "the subject whose reference image gave its colours" in page.locator("#examples").inner_text()
    # the DET region is drawn (not blank); clicking enlarges it to the viewport and clicking again restores it
    det = page.locator("#fig-det img")
    assert not_blank(det.screenshot()) > 0.02
    width = det.bounding_box()["width"]
    det.click()
    assert "zoomed" in det.get_attribute("class") and det.bounding_box()["width"] == 1200
    det.click()
    assert det.bounding_box()["width"] == width
    # the configuration as YAML in a closed details element, the system note in another
    page.locator("summary", has_text="Configuration").click()
    yaml_text = page.locator("#details pre").inner_text()
    assert "scenario: all" in yaml_text and "det_bands: true" in yaml_text
    assert page.locator("details", has_text="How the face system was chosen").get_attribute("open") is None
    page.close()


def audit_report(browser, manifest, tmp_path, *keys):
    """An sface audit of ``manifest`` into ``tmp_path / "r"``, loaded in the browser: (out, page, errors)."""
    from fr_eval.cli import main

    out = tmp_path / "r"
    assert main(["scenario=generated", f"generated.manifest={manifest}", "system=sface", f"out_dir={out}",
                 f"store_dir={tmp_path / 's'}", "progress=false", *keys]) == 0
    return (out, *load(browser, out / "report.html"))


def test_audit_report_in_a_browser(browser, lfw_small, tmp_path):
    manifest, _ = build_manifest(lfw_small, tmp_path)
    out, page, errors = audit_report(browser, manifest, tmp_path, "bootstrap.n_resamples=100",
                                     "generated.min_per_method=2", "report.min_subjects=2", "report.curves_per_panel=2")
    facts = check_page(page, errors, out)
    doc = json.loads((out / "metrics.json").read_text())
    # every method on the first screen: the ranked ones first, in rank order, then the others with why, and (all)
    ranked = [g["value"] for g in doc["groups"]["method"] if g["rank"] is not None]
    shown = page.locator("#headline tr td:nth-child(2)").all_inner_texts()
    # one reference photo per identity here: no photo can be left out, and the page says why there is no ceiling
    assert not doc["ceiling"]["available"] and "(real photos, each left out)" not in shown
    assert "No real-photo ceiling: no identity has two acquired reference photos" in page.inner_text("#methods")
    assert shown[:len(ranked)] == ranked and shown[-1] == "(all)"
    assert sorted(shown[:-1]) == sorted(g["value"] for g in doc["groups"]["method"])
    unranked = page.locator("#headline tr.small-n td:last-child").all_inner_texts()
    assert len(unranked) == len(shown) - 1 - len(ranked) and all(unranked), unranked
    assert {"#methods", "#paired-methods", "#det-generated", "#contact-sheet"} <= set(facts["toc"])
    # the methods compared by identity: every pair sharing >= 5 identities (blank has 1), better-ranked first
    import csv
    with open(out / "generated_images.csv") as f:
        images = [r for r in csv.DictReader(f) if r["status"] != "not enrolled (every reference failed)"]
    ids = {m: {r["identity"] for r in images if r["method"] == m} for m in {r["method"] for r in images}}
    order = [g["value"] for g in doc["groups"]["method"]]
    expect = [(a, b) for i, a in enumerate(order) for b in order[i + 1:] if len(ids[a] & ids[b]) >= 5]
    pairs = [(c["a"], c["b"]) for c in doc["method_comparisons"]]
    assert pairs == expect == [("photo", "style"), ("photo", "wrong"), ("style", "wrong")]
    wrong = doc["method_comparisons"][1]  # somebody else's photos: never verified, against real photos
    photo_rate = np.mean([r["verified"] == "True" for r in images if r["method"] == "photo"])
    assert wrong["verified_a"] == pytest.approx(photo_rate) and wrong["verified_b"] == 0.0
    assert wrong["verified_difference"] == pytest.approx(-photo_rate) and wrong["verified_interval"]["high"] < 0
    # each comparison's sentence, then how many identities a claim needs (the power sentence)
    answers = page.locator(".answer li").all_inner_texts()
    assert len(answers) == 2 * len(pairs)
    assert [a.split(",")[0] for a in answers[1::2]] == [f"How many identities: method {b} against method {a}"
                                                        for a, b in pairs]
    assert all("cannot be told apart" in a or "has no spread" in a for a in answers[1::2])
    # prompts and provenance: a table per prompt, one per provenance (curated, random and unknown images), the
    # provenance column, and the curated mark on the ranked method of curated samples, explained under the headline
    assert {"#by-category", "#by-prompt", "#by-provenance"} <= set(facts["toc"])
    photo_rank = page.locator("#headline tr", has_text="photo").first.locator("td").first.inner_text()
    assert photo_rank.endswith("§") and "§ ranked on curated samples: 6 of 18" in page.inner_text("body")
    assert page.locator("#tab-generated_by_provenance tr").count() == 1 + 3
    # a method too small to rank is shown greyed, in the method table and on the first screen with why
    grey = page.locator("#tab-generated_methods tr.small-n")
    assert grey.count() >= 1 and "blank" in grey.first.inner_text()
    colour = grey.first.locator("td").first.evaluate("td => getComputedStyle(td).color")
    blank = page.locator("#headline tr.small-n", has_text="blank")
    assert colour == "rgb(153, 153, 153)" and "generated.min_per_method=2" in blank.inner_text()
    page.close()


def small_audit(browser, manifest, tmp_path):
    """An audit of a handful of rows (every method ranked), loaded and checked as every page is."""
    out, page, errors = audit_report(browser, manifest, tmp_path, "bootstrap.n_resamples=50",
                                     "generated.allow_outside=true", "generated.min_per_method=1",
                                     "report.min_subjects=1")
    return out, page, check_page(page, errors, out)


def test_video_audit_in_a_browser(browser, lfw_small, tmp_path):
    pytest.importorskip("av", reason="PyAV is not installed (a dependency of fr-eval: pip install -e .)")
    from integration.test_audit_videos import build

    manifest, _, _ = build(lfw_small, tmp_path)
    out, page, facts = small_audit(browser, manifest, tmp_path)
    assert "#videos" in facts["toc"]
    rows = page.locator("#tab-generated_video_methods tr")
    assert rows.count() == 1 + 7  # the header and the seven methods
    over_time = page.locator("#videos img").first
    assert not_blank(over_time.screenshot()) > 0.02
    page.close()


def test_copying_in_a_browser(browser, lfw_small, tmp_path):
    """The Copying section: identity, pose, expression and scene copying side by side, the spreads, and the
    flagged images beside their inputs (the sheet decodes: check_page)."""
    pytest.importorskip("dlib", reason="dlib is not installed (the pose and expression columns need its landmarks: "
                                       "pip install -e '.[dlib]')")
    from integration.test_audit import paste_manifest

    manifest, _ = paste_manifest(lfw_small, tmp_path)
    out, page, errors = audit_report(browser, manifest, tmp_path, "bootstrap.n_resamples=50",
                                     "generated.allow_outside=true", "generated.min_per_method=2")
    facts = check_page(page, errors, out)
    assert "#copy" in facts["toc"]
    header = page.locator("#tab-generated_copy tr").first.inner_text()
    for column in ("Copy rate (%)", "Pose-copy rate (%)", "Expression-copy rate (%)", "Pose spread within an identity"):
        assert column in header, column
    paste = page.locator("#tab-generated_copy tr", has_text="paste").inner_text().split("\t")
    assert paste[:2] == ["paste", "6"] and paste[6].startswith("100")
    sheet = page.locator("#copy img")
    assert sheet.count() == 1 and sheet.evaluate("i => i.naturalHeight") > 300
    assert "The images flagged as copies (" in page.inner_text("#copy")
    # by group of identities: the skin tone of their three reference photos, every identity placed or set aside
    assert "#groups" in facts["toc"]
    doc = json.loads((out / "metrics.json").read_text())
    skin = doc["differentials"]["skin_tone"]
    text = page.inner_text("#groups")
    rows = page.locator("#tab-generated_groups_skin_tone tr")
    if skin["rows"]:
        assert rows.count() == 1 + len(skin["rows"]) and "Bins: very light" in text
    else:
        assert rows.count() == 0 and "By skin_tone: no group of identities" in text
    assert sum(r["n_identities"] for r in skin["rows"]) + sum(len(v) for v in skin["set_aside"].values()) == 6
    page.close()


def test_several_people_in_a_browser(browser, lfw_small, tmp_path):
    from integration.test_audit_multi import build_pairs

    out, page, facts = small_audit(browser, build_pairs(lfw_small, tmp_path), tmp_path)
    assert "#multi" in facts["toc"]
    rows = page.locator("#tab-generated_multi_methods tr")
    assert rows.count() == 1 + 4  # the header, three methods and (all)
    swapped = page.locator("#tab-generated_multi_methods tr", has_text="swapped").inner_text().split("\t")
    assert swapped[:5] == ["swapped", "1", "1", "0", "2 / 2"] and swapped[6].startswith("100")
    assert "Hungarian assignment" in page.inner_text("#multi")
    page.close()


def test_banners_and_small_samples_in_a_browser(browser, lfw_small, tmp_path):
    """system=auto offline (SFace stands in for ArcFace), the exemplar stand-in, 8 subjects: the substitutes are
    said above the headline, the question names the stand-in, and the comparisons over 8 < 10 subjects are greyed
    with 'n too small' and no direction."""
    from fr_eval.cli import main

    out = tmp_path / "r"
    assert main(["scenario=[3,4]", f"dataset.root={lfw_small}", "dataset.limit_subjects=8", f"out_dir={out}",
                 f"store_dir={tmp_path / 's'}", "progress=false", "bootstrap.n_resamples=100"]) == 0
    page, errors = load(browser, out / "report.html")
    check_page(page, errors, out)
    top = page.evaluate("""(() => { const h = document.getElementById('headline');
        return Array.from(document.querySelectorAll('.warning')).filter(w =>
            w.compareDocumentPosition(h) & Node.DOCUMENT_POSITION_FOLLOWING).map(w => w.textContent); })()""")
    assert any("system=auto fell back to SFace" in w for w in top), top
    assert page.locator(".answer strong").inner_text() == "Does exemplar colour transfer (a stand-in for DeOldify) help?"
    answer = page.locator(".answer li").inner_text()
    assert "n too small (8 subjects < report.min_subjects=10)" in answer and "no conclusion" in answer
    assert "at an unsupported operating point\u2020 (FMR<=0.1%" in answer  # 8 subjects' impostors support none
    row = page.locator("#tab-paired tr.small-n")
    assert row.count() == 1 and row.locator("td").first.evaluate("td => getComputedStyle(td).color") == "rgb(153, 153, 153)"
    page.close()


def test_score_import_report_in_a_browser(browser, tmp_path):
    from fr_eval.cli import main

    rng = np.random.default_rng(0)
    rows = ["row,kind,score,reference_subject,probe_subject"]
    for k in range(40):
        rows += [f"1,genuine,{rng.normal(0.6, 0.1):.6f},s{k},s{k}"]
        rows += [f"1,impostor,{rng.normal(0.0, 0.1):.6f},s{k},s{(k + j) % 40}" for j in range(1, 30)]
    (tmp_path / "scores.csv").write_text("\n".join(rows) + "\n")
    out = tmp_path / "r"
    assert main([f"scores={tmp_path / 'scores.csv'}", f"out_dir={out}", "progress=false",
                 "bootstrap.n_resamples=100"]) == 0
    page, errors = load(browser, out / "report.html")
    facts = check_page(page, errors, out)
    assert "#det" in facts["toc"] and "scores.csv" in page.locator("dl.run").inner_text()
    page.close()


def test_compare_two_systems_on_the_same_attempts(browser, scenario_report, shared_arcface_files, tmp_path, capsys):
    """fr-eval compare: B's rows against A's attempt by attempt, each at its own threshold; checked
    against the two reports' own exported scores."""
    import pyarrow.parquet as pq

    from conftest import LFW_SMALL
    from fr_eval.cli import main

    det, rec = shared_arcface_files
    other = tmp_path / "arcface"
    assert main(["scenario=[1,3,4]", "system=arcface", f"system.detector={det}", f"system.recogniser={rec}",
                 f"dataset.root={LFW_SMALL}", f"out_dir={other}", f"store_dir={tmp_path / 's'}", "progress=false",
                 "bootstrap.n_resamples=100"]) == 0
    out = tmp_path / "cmp"
    assert main(["compare", str(scenario_report), str(other), f"out_dir={out}", "bootstrap.n_resamples=200"]) == 0
    doc = json.loads((out / "metrics.json").read_text())
    assert [c["row"] for c in doc["comparisons"]] == ["1", "3", "4 [exemplar]"]  # the rows both reports hold

    # lfw_small's 2,610 impostors allow under report.min_false_matches false matches at FMR 0.1%: the
    # comparison moves to the strictest supported target both runs hold (FMR 1%)
    fmr = doc["comparisons"][0]["fmr"]
    assert fmr == 0.01 and all(c["fmr"] == fmr and c["supported"] for c in doc["comparisons"])
    assert doc["a"]["supported"]["0.001"] is False and doc["a"]["supported"]["0.01"] is True

    def rejected(folder, row):
        t = pq.read_table(folder / "scores" / "comparisons.parquet").to_pydict()
        m = json.loads((folder / "metrics.json").read_text())
        thr = m["thresholds"][str(fmr)]["threshold"]
        got = {(r, p): s for r, p, k, w, s in zip(t["reference"], t["probe"], t["kind"], t["row"], t["score"])
               if k == "genuine" and w == row}
        return {key: not (s >= thr) for key, s in got.items()}  # NaN (failed) is a rejection

    for c in doc["comparisons"]:
        ra, rb = rejected(scenario_report, c["row"]), rejected(other, c["row"])
        assert set(ra) == set(rb) and c["n_attempts"] == len(ra) == 90
        assert c["frr_a"] == pytest.approx(np.mean(list(ra.values())))
        assert c["frr_b"] == pytest.approx(np.mean([rb[k] for k in ra]))
        assert c["discordant"]["a_only"] == sum(ra[k] and not rb[k] for k in ra)
        assert c["discordant"]["b_only"] == sum(rb[k] and not ra[k] for k in ra)
        assert c["frr_definition"] == "transaction" and "p_holm" in c["frr_test"]
        assert f"arcface (B), scenario {c['row']}" in c["sentence"]
    assert doc["a"]["system"] == "sface" and doc["b"]["system"] == "arcface"
    assert "| arcface (B), scenario 4 [exemplar] vs sface (A), scenario 4 [exemplar] | FMR<=1% | 30 | 90 |" in \
        (out / "compare.md").read_text()
    page, errors = load(browser, out / "report.html")
    facts = check_page(page, errors, out)
    assert "FMR <= 1% (the runs' FMR 0.1% rests on too few impostor comparisons" in page.locator("dl.run").inner_text()
    assert "det_compare.pdf" in facts["files"] and len(page.locator(".answer li").all_inner_texts()) == 3
    assert "Shaded" not in page.locator("#det").inner_text()
    page.close()
    # with the probe subjects of the exports, each curve gets its band
    from conftest import changed_fraction
    banded = tmp_path / "cmp_bands"
    assert main(["compare", str(scenario_report), str(other), f"out_dir={banded}", "bootstrap.n_resamples=200",
                 "report.det_bands=true"]) == 0
    assert changed_fraction(out / "det_compare.png", banded / "det_compare.png") > 0.003  # 0.0 without
    assert json.loads((banded / "metrics.json").read_text())["config"]["det_bands"] is True
    page, errors = load(browser, banded / "report.html")
    check_page(page, errors, banded)
    assert "Shaded: each curve's pointwise 95% subject-bootstrap band" in page.locator("#det").inner_text()
    page.close()
    # not a report, or reports at different operating points: one line each
    capsys.readouterr()
    assert main(["compare", str(tmp_path), str(other)]) == 2
    assert capsys.readouterr().err.strip() == f"error: fr-eval compare: {tmp_path} holds no metrics.json (give a report folder)"
    m = json.loads((other / "metrics.json").read_text())
    m["config"]["fmr"] = 0.01
    (other / "metrics.json").write_text(json.dumps(m))
    assert main(["compare", str(scenario_report), str(other), f"out_dir={tmp_path / 'x'}"]) == 2
    assert "different FMR targets (0.001 and 0.01)" in capsys.readouterr().err


def test_systems_report_in_a_browser(browser, lfw_small, tmp_path):
    from fr_eval.cli import main

    pytest.importorskip("dlib", reason="dlib is not installed (pip install -e '.[dlib]')")
    out = tmp_path / "r"
    assert main(["scenario=[1,3]", "system=[sface,dlib]", f"dataset.root={lfw_small}", "dataset.limit_subjects=6",
                 f"out_dir={out}", f"store_dir={tmp_path / 's'}", "progress=false", "bootstrap.n_resamples=50",
                 "report.det_bands=true"]) == 0
    page, errors = load(browser, out / "report.html")
    facts = check_page(page, errors, out)
    assert "Shaded: each row's pointwise 95% subject-bootstrap band" in page.locator("#det").inner_text()
    assert {"sface/report.html", "dlib/report.html", "agreement.csv", "table3.csv"} <= set(facts["files"])
    assert page.locator("#headline tr td:first-child").all_inner_texts() == ["sface", "sface", "dlib", "dlib"]
    page.close()
    for n in ("sface", "dlib"):  # each system's own page stands alone
        sub, sub_errors = load(browser, out / n / "report.html")
        check_page(sub, sub_errors, out / n)
        sub.close()


def test_judges_report_in_a_browser(browser, lfw_small, tmp_path, capsys):
    from fr_eval.cli import main

    pytest.importorskip("dlib", reason="dlib is not installed (pip install -e '.[dlib]')")
    manifest, names = build_manifest(lfw_small, tmp_path)
    # a second reference photo per identity (its first one mirrored; every photo of lfw_small is in use): each is
    # scored against its identity enrolled without it, the real-photo ceiling
    from fr_eval.images import load_image
    from generated_faces import save
    with manifest.open("a") as f:
        for n in names:
            save(tmp_path / "faces" / n / "mirrored.png",
                 load_image(sorted((tmp_path / "faces" / n).glob("*.jpg"))[0])[:, ::-1])
            f.write(f"{tmp_path / 'faces' / n / 'mirrored.png'},{n},reference,,,,\n")
    out = tmp_path / "r"
    assert main(["scenario=generated", f"generated.manifest={manifest}", "system=[sface,dlib]", f"out_dir={out}",
                 f"store_dir={tmp_path / 's'}", "progress=false", "bootstrap.n_resamples=50",
                 "generated.min_per_method=2", "report.min_subjects=2"]) == 0
    page, errors = load(browser, out / "report.html")
    facts = check_page(page, errors, out)
    assert {"judges.csv", "kendall.csv", "kappa.csv", "image_agreement.csv", "judges.pdf",
            "det_judges.pdf"} <= set(facts["files"])
    j = json.loads((out / "metrics.json").read_text())["judges"]
    assert page.locator(".answer li").first.inner_text().rstrip(".") == j["verdict"].rstrip(".")
    # the console as the first screen: the verdict first, then each judge's ceiling, ranked and unranked methods
    said = capsys.readouterr().out.splitlines()
    assert said[0] == j["verdict"] and said[1].startswith("sface: identity preservation by method")
    assert said[2].startswith("  ceiling, real photos each left out of their enrolment: verified of all ")
    assert any(ln.startswith("  not ranked (1: ") and "blank (1 image, 1 identity)" in ln for ln in said)
    # the judges' verdict and the ceiling above the headline table, on the first screen
    box = page.locator(".answer").bounding_box()
    assert box["y"] < page.locator("#headline").bounding_box()["y"] and box["y"] + box["height"] < 900
    # the headline: the real-photo ceiling first, then every method (the ranked ones first, then the unranked ones
    # greyed, with counts and why), each judge's verified rate with its interval over identities
    methods = page.locator("#headline tr td:nth-child(2)").all_inner_texts()
    assert methods[0] == "(real photos, each left out)" and set(j["ceiling"]) == {"sface", "dlib"}
    assert sorted(methods[1:]) == sorted(r["method"] for r in j["methods"]) and methods[-1] == "blank"
    assert page.locator("#headline tr.small-n").count() == sum(r["rank_all"] is None for r in j["methods"])
    heads = page.locator("#headline th").all_inner_texts()
    c = j["ceiling"]["dlib"]
    cell = page.locator("#headline tr").nth(1).locator("td").nth(heads.index("Verified of all, dlib (%) [95% CI, "
                                                                            "identities]")).inner_text()
    assert cell.split()[0] == f"{100 * c['verified_rate_of_all']:.{len(cell.split()[0].partition('.')[2])}f}"
    assert "ceiling" in page.locator(".answer").inner_text() and f"({c['n']} photos" in page.locator(".answer").inner_text()
    for r in j["methods"]:
        if r["rank_all"] is None:
            assert page.locator("#headline tr", has_text=r["method"]).first.locator("td").last.inner_text() == \
                r["not_ranked_because"] != ""
    assert {"#judges", "#bars", "#det", "#copy"} <= set(facts["toc"])
    assert "The copy rate could not be computed" in page.locator("#copy").inner_text()
    page.close()


def test_identification_first_screen_in_a_browser(browser, lfw_small, tmp_path):
    """protocol=identification: the page's title, headline and answers are the identification's (rank-1 and FNIR
    at the supported FPIR point, "does colourisation hurt search?"); a sentence at an unsupported FPIR target
    carries the dagger and draws no conclusion; the identification section comes before Table 3."""
    from fr_eval.cli import main

    out = tmp_path / "r"
    assert main(["scenario=all", "protocol=identification", "system=sface", f"dataset.root={lfw_small}",
                 f"out_dir={out}", f"store_dir={tmp_path / 's'}", "progress=false", "bootstrap.n_resamples=100"]) == 0
    page, errors = load(browser, out / "report.html")
    facts = check_page(page, errors, out)
    assert page.locator("h1").inner_text().startswith("fr-eval report: identification (1:N)")
    head = page.locator("#headline th").all_inner_texts()
    assert head[:4] == ["Scenario", "Gallery", "Mated searches", "Rank-1 identification rate (%)"]
    assert head[4].startswith("FNIR rank 1 at T(FPIR<=")
    assert page.locator(".answer strong").inner_text() == "Does colourisation hurt search?"
    m = json.loads((out / "metrics.json").read_text())["identification"]
    unsupported = [f"T(FPIR<={100 * float(t):g}%)" for t, rec in m["thresholds"].items() if not rec["supported"]]
    for sentence in page.locator(".answer li").all_inner_texts():
        if any(u in sentence for u in unsupported):
            assert "\u2020" in sentence and "no conclusion" in sentence, sentence
    assert facts["toc"].index("#identification") < facts["toc"].index("#table3")
    page.close()
