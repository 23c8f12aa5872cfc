"""Grad-CAM for the shipped image models: is it faithful, and is it fast?

    DLAPP_DATA_DIR=/work/shared/data python benchmarks/explain_image_bench.py [--images 500] [--model PATH]
        [--fill mean|blur] [--layers L1,L2]

Faithfulness (a deletion test): for each of the first N CIFAR-10 test images, take the class the
model predicts, upsample its heat map bilinearly to the image, and replace the 20% of pixels with
the highest attribution by the image's own mean colour; then report the mean drop of the
predicted class's (calibrated) probability. A faithful map picks pixels the answer depends on.
References from the same run: a random map of the same resolution, upsampled and masked the same
way (the same blob shapes in random places: the fair reference, since scattered single pixels
wreck a 32-px image more than any compact region does), random pixels, and a centred Gaussian
(CIFAR-10 objects are mostly central). `--fill blur` replaces the pixels by a blurred copy of
the image instead (Gaussian, radius 3 px): it removes their detail without painting flat
specks, which a CNN reads as strong new edges, so scattered pixels stop being a test of how
much a 32-px image survives speckle and become one of where the evidence is.
Printed for Grad-CAM and LayerCAM at every candidate layer (per resolution of the classifier,
its last output and its last non-linear one), which is how explain/image.py's defaults were chosen.

Speed: p50/p90 model-side milliseconds of one `grad_cam` call on a single image, beside the p50
of a plain compiled prediction of the same model on one image, same run.
Target: Grad-CAM p50 <= 300 ms per image for cifar10-best on a 2-core CPU.
The default run (500 images, 7 layers x 2 methods) takes about 7 minutes on that CPU.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.infer_bench import timed  # noqa: E402
from dlapp import settings  # noqa: E402
from dlapp.backend import compiled, keras, tf  # noqa: E402
from dlapp.explain.image import feature_stage_layers, grad_cam, gradcam_layer, upsample  # noqa: E402
from dlapp.layers import trained_network  # noqa: E402

MASK_SHARE = 0.2  # share of pixels replaced
METHODS = ("gradcam", "layercam")
TARGET_MS = 300.0


def load_images(n: int) -> np.ndarray:
    data_dir = settings.load().data_dir
    if data_dir is None or not (data_dir / "cifar10.npz").is_file():
        sys.exit("Set DLAPP_DATA_DIR to a folder holding cifar10.npz (e.g. DLAPP_DATA_DIR=/work/shared/data).")
    with np.load(data_dir / "cifar10.npz", allow_pickle=False) as z:
        return z["x_test"][:n]


BLUR_RADIUS = 3.0  # px, for --fill blur: about a tenth of a CIFAR-10 image, so the shapes go, the colours stay


def filler(image: np.ndarray, fill: str) -> np.ndarray:
    """What masked pixels become: the image's own mean colour, or a blurred copy of it."""
    if fill == "blur":
        from PIL import Image, ImageFilter

        squeezed = image[..., 0] if image.shape[-1] == 1 else image
        blurred = np.asarray(Image.fromarray(squeezed).filter(ImageFilter.GaussianBlur(BLUR_RADIUS)))
        return blurred.reshape(image.shape)
    mean = image.reshape(-1, image.shape[-1]).mean(axis=0).round().astype(np.uint8)
    return np.broadcast_to(mean, image.shape)


def masked(image: np.ndarray, mask: np.ndarray, fill: str) -> np.ndarray:
    """The image with the masked pixels replaced (see filler)."""
    out = image.copy()
    out[mask] = filler(image, fill)[mask]
    return out


def top_mask(heat_px: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The MASK_SHARE of pixels with the highest attribution; ties (flat zero regions) broken at random."""
    k = int(round(MASK_SHARE * heat_px.size))
    order = np.lexsort((rng.random(heat_px.size), -heat_px.ravel()))
    mask = np.zeros(heat_px.size, bool)
    mask[order[:k]] = True
    return mask.reshape(heat_px.shape)


def random_mask(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    mask = np.zeros(shape[0] * shape[1], bool)
    mask[rng.choice(mask.size, int(round(MASK_SHARE * mask.size)), replace=False)] = True
    return mask.reshape(shape)


def predict_all(predict, images: np.ndarray, batch: int = 250) -> np.ndarray:
    return np.concatenate([predict(images[i:i + batch]) for i in range(0, len(images), batch)])


def drops_for(predict, images: np.ndarray, masks: np.ndarray, classes: np.ndarray, before: np.ndarray,
              fill: str) -> np.ndarray:
    after = predict_all(predict, np.stack([masked(im, m, fill) for im, m in zip(images, masks, strict=True)]))
    return before - after[np.arange(len(images)), classes]


def faithfulness(model, predict, images: np.ndarray, layers: list[str], seed: int,
                 fill: str = "mean") -> dict[str, np.ndarray]:
    """Per image, the drop of the predicted class's probability when the top MASK_SHARE of pixels
    of a map are replaced: per layer, its Grad-CAM and LayerCAM maps ("<layer>:<method>") and a
    random map of the same resolution ("<layer>:random": the same mask shapes in random places);
    also random pixels and a centred Gaussian (CIFAR-10 objects are mostly central: a map must
    beat that prior to tell anything)."""
    probs = predict_all(predict, images)
    classes = probs.argmax(axis=1)
    before = probs[np.arange(len(images)), classes]
    hw = images.shape[1:3]
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:hw[0], :hw[1]] - (np.array(hw) - 1)[:, None, None] / 2
    centre = np.exp(-(yy ** 2 + xx ** 2) / (2 * (hw[0] / 4) ** 2))
    out = {"random pixels": drops_for(predict, images, [random_mask(hw, rng) for _ in images], classes, before, fill),
           "centre prior": drops_for(predict, images, [top_mask(centre, rng) for _ in images], classes, before,
                                       fill)}
    for layer in layers:
        for method in METHODS:
            maps = [grad_cam(model, im, int(c), layer=layer, method=method)
                    for im, c in zip(images, classes, strict=True)]
            out[f"{layer}:{method}"] = drops_for(predict, images, [top_mask(upsample(m, hw), rng) for m in maps],
                                                 classes, before, fill)
        blobs = [top_mask(upsample(rng.random(maps[0].shape), hw), rng) for _ in images]
        out[f"{layer}:random"] = drops_for(predict, images, blobs, classes, before, fill)
    return out


def candidates(classifier, stages: list[str]) -> list[str]:
    """Per resolution of the classifier, its last 4-D output and its last non-linear one (`stages`)."""
    last: dict[tuple, str] = {}
    for layer in classifier.layers:
        shape = layer.output.shape
        if len(shape) == 4 and not isinstance(layer, keras.layers.InputLayer | keras.layers.Rescaling):
            last[tuple(shape[1:3])] = layer.name
    order = [la.name for la in classifier.layers]
    return sorted(set(last.values()) | set(stages), key=order.index)


def report_faithfulness(drops: dict[str, np.ndarray], layers: list[str], classifier, default: str,
                        classic: str, fill: str) -> None:
    n = len(drops["random pixels"])
    by = "a blurred copy of the image" if fill == "blur" else "the image's mean colour"
    print(f"{n} CIFAR-10 test images, top {MASK_SHARE:.0%} of pixels of a map replaced by {by}:\n"
          "mean drop of the predicted class's probability (share of images where it beats a random map of its side)")
    print(f"{'layer':<16} {'side':>6} {'random map (ref)':>17} {'Grad-CAM':>16} {'LayerCAM':>16}")
    for layer in layers:
        side = classifier.get_layer(layer).output.shape[1:3]
        ref = drops[f"{layer}:random"]
        cells = [f"{drops[f'{layer}:{m}'].mean():.3f} ({(drops[f'{layer}:{m}'] > ref).mean():3.0%})" for m in METHODS]
        mark = " <- default" if layer == default else (" <- Grad-CAM default" if layer == classic else "")
        print(f"{layer:<16} {f'{side[0]}x{side[1]}':>6} {ref.mean():17.3f} {cells[0]:>16} {cells[1]:>16}{mark}")
    for name in ("random pixels", "centre prior"):
        print(f"{name + ' (reference)':<24} {drops[name].mean():9.3f}")
    se = max(d.std() / np.sqrt(n) for d in drops.values())
    print(f"(standard error of each mean <= {se:.3f})")
    ours = drops[f"{default}:layercam"]
    for name, ref in (("a random map of its side", drops[f"{default}:random"]),
                      ("random pixels", drops["random pixels"]), ("the centre prior", drops["centre prior"])):
        verdict = "yes" if ours.mean() > ref.mean() else "NO"
        print(f"default map ({default}, LayerCAM) drops more than {name}: {verdict}, {ours.mean():.3f} vs "
              f"{ref.mean():.3f} ({ours.mean() / ref.mean():.2f}x; on {(ours > ref).mean():.0%} of images)")


def report_speed(model, predict, image: np.ndarray, runs: int, default: str, classic: str) -> None:
    plain = timed(lambda: predict(image[None]), runs)
    print(f"\nsingle image, model-side ms ({runs} runs)   p50      p90")
    print(f"{'plain prediction (reference)':<38} {np.percentile(plain, 50):6.1f}  {np.percentile(plain, 90):7.1f}")
    for method, layer in (("layercam", default), ("gradcam", classic)):
        ms = timed(lambda m=method: grad_cam(model, image, 0, method=m), runs)
        p50, p90 = np.percentile(ms, 50), np.percentile(ms, 90)
        verdict = "met" if p50 <= TARGET_MS else "MISSED"
        print(f"{f'grad_cam {method} at {layer}':<38} {p50:6.1f}  {p90:7.1f}   ({p50 / np.percentile(plain, 50):.1f}x "
              f"a prediction; target p50 <= {TARGET_MS:.0f} ms: {verdict})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(REPO / "models" / "cifar10-best.keras"))
    parser.add_argument("--images", type=int, default=500)
    parser.add_argument("--runs", type=int, default=100, help="single-image calls timed for the speed figures")
    parser.add_argument("--layers", default="", help="comma-separated classifier layers to compare "
                        "(default: per resolution, the last output and the last non-linear one)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fill", choices=("mean", "blur"), default="mean", help="what masked pixels become")
    args = parser.parse_args()

    images = load_images(args.images)
    model = keras.saving.load_model(args.model, safe_mode=True)
    predict = compiled(model, tf.TensorSpec((None, *model.input_shape[1:]), tf.uint8))
    default, classic = gradcam_layer(model), gradcam_layer(model, "gradcam")
    classifier = trained_network(model) or model
    layers = args.layers.split(",") if args.layers else candidates(classifier, feature_stage_layers(model))
    print(f"model {args.model}")
    drops = faithfulness(model, predict, images, layers, args.seed, args.fill)
    report_faithfulness(drops, layers, classifier, default, classic, args.fill)
    report_speed(model, predict, images[0], args.runs, default, classic)


if __name__ == "__main__":
    main()
