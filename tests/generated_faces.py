"""Stand-in generated faces made from LFW for the audit's tests: real photos, stylised photos (the
"Style" category), photos of the wrong person labelled with an identity, a blank image, and rows a
manifest must reject (an identity never enrolled, a missing file, an unknown role)."""
from pathlib import Path

import cv2
import numpy as np

from fr_eval.images import load_image

STYLES = {
    "stylization": lambda im: cv2.stylization(im, sigma_s=60, sigma_r=0.45),
    "sketch": lambda im: cv2.pencilSketch(im, sigma_s=60, sigma_r=0.07, shade_factor=0.05)[1],
    "quantised": lambda im: (im // 64) * 64 + 32,
    "blur": lambda im: cv2.GaussianBlur(im, (0, 0), 6),
    "greyscale": lambda im: cv2.cvtColor(cv2.cvtColor(im, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB),
}


def save(path, rgb):
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2BGR))


def build_manifest(lfw_small, tmp_path):
    """The manifest and the faces it names, all inside ``tmp_path`` (a manifest's rows may not leave its folder
    unless generated.allow_outside=true): six LFW people's photos copied under ``faces/``."""
    import shutil

    people = sorted(p for p in lfw_small.iterdir() if p.is_dir())[:6]
    shutil.copytree(lfw_small, tmp_path / "faces", ignore=lambda d, names: [] if Path(d) != lfw_small else
                    [n for n in names if n not in {p.name for p in people}])
    files = {p.name: sorted((tmp_path / "faces" / p.name).glob("*.jpg")) for p in people}
    names = [p.name for p in people]
    root = tmp_path / "gen"
    # provenance: the real photos stand for curated samples, the wrong ones for a random draw, the rest unknown
    rows = ["path,identity,role,method,category,prompt,target,provenance"]
    for n in names:
        rows.append(f"{files[n][0]},{n},reference,,,,,")
        rows.append(f"{files[n][1]},{n},generated,photo,Context,a photo of {n},"
                    + (str(files[n][3]) if n == names[0] else "") + ",curated")
    for (style, fn), n in zip(STYLES.items(), names):
        out = root / "style" / f"{n}_{style}.png"
        save(out, fn(load_image(files[n][1])))
        rows.append(f"{out},{n},generated,style,{style},a {style} portrait of {n},,")
    for k, n in enumerate(names):  # somebody else's photo, labelled as n
        other = names[(k + 1) % len(names)]
        rows.append(f"{files[other][2]},{n},generated,wrong,Context,{n} at the beach,,Random")
    save(root / "blank.png", np.zeros((64, 64, 3), np.uint8))
    rows.append(f"{root / 'blank.png'},{names[0]},generated,blank,Context,,,")
    rows.append(f"{files[names[2]][3]},nobody,generated,photo,Context,,,")  # identity never enrolled
    rows.append(f"{root / 'gone.png'},{names[1]},generated,photo,Context,,,")  # missing file
    rows.append(f"{files[names[1]][3]},{names[1]},portrait,photo,Context,,,")  # unknown role
    m = tmp_path / "generated.csv"
    m.write_text("\n".join(rows) + "\n")
    return m, names
