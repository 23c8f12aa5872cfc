"""Open-set test of "none of these": does the stored threshold turn away what the model never saw?

    DLAPP_DATA_DIR=../shared/data python benchmarks/openset_bench.py [--per-class 2000] [--synthetic 500]
        [--known airplane,automobile,bird,cat,deer,dog] [--epochs N] [--seed 0]
    DLAPP_DATA_DIR=../shared/data python benchmarks/openset_bench.py --model cifar10-best   # a shipped model
    DLAPP_DATA_DIR=../shared/data python benchmarks/openset_bench.py --compare 303f2aa:cifar10-best,cifar10-best
        # old and new side by side on real photos (needs scikit-image and scikit-learn: a benchmark venv)

Trains the image `fast` preset on 6 of CIFAR-10's classes through dlapp's own `train()` (so the
temperature and the threshold are fitted exactly as for a user's model), into a scratch cache. The
6 classes reach `train()` as a Keras-layout cifar10.npz with a `class_names` array in a temporary
DLAPP_DATA_DIR: the path a built-in data set takes, so no image is re-encoded.

The default split leaves each unknown class a look-alike among the known ones (truck/automobile,
ship/airplane, horse/deer, frog/cat), so the 4 unknown classes are the hard, near case; noise,
flat colours and rendered words are the far case a visitor uploads by mistake.

In-distribution: the test images of the known classes. Scores (higher = more in-distribution):
- max-softmax: the top calibrated probability, the score "none of these" thresholds;
- energy: T·logsumexp(z / T) on the classifier's logits z (averaged over the model's test-time
  views), T the fitted temperature (Liu et al. 2020). On log-probabilities it says nothing new:
  −T·logsumexp(log p / T) is 0 at T = 1 and otherwise a function of p alone (a Rényi entropy),
  since softmax has removed the per-input shift that carries energy's signal; so the logits are
  read from the classifier's final Dense layer;
- mahalanobis: minus the distance from the classifier's features (the final Dense layer's input)
  to the nearest known class's mean (Lee et al. 2018), fitted on ~1000 training images per known
  class: a feature-space reference for what the probabilities cannot see;
- mahalanobis, probs: the same distance on the centred log-probabilities (the logits up to
  their per-input shift), a score any model's output allows, with ~100 numbers to store.
Per OOD kind: AUROC (rank form of Mann-Whitney U, ties averaged), the share accepted at the stored
threshold (false accepts) beside the in-distribution share it accepts (target 95%), and each
score's false accepts at a threshold placed on this test split to accept 95% (FPR@95).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dlapp.data import load_dataset  # noqa: E402
from dlapp.data.registry import CIFAR10_CLASSES  # noqa: E402
from dlapp.store import ModelStore  # noqa: E402
from dlapp.training import TrainConfig, train  # noqa: E402
from dlapp.training.evaluate import probabilities  # noqa: E402

DEFAULT_KNOWN = ("airplane", "automobile", "bird", "cat", "deer", "dog")
WORDS = ("STOP", "hello", "SALE 50%", "Open 24h", "invoice", "lorem ipsum", "EXIT", "menu", "total $42.00",
         "Chapter 3", "password", "Welcome", "no parking", "1984", "OK", "dlapp", "Room 101", "FREE WIFI")
SCORES = ("max-softmax", "energy", "mahalanobis", "mahalanobis, probs")
from dlapp.training.calibrate import NONE_ACCEPT as ACCEPT  # noqa: E402  (the share "none of these" is fitted to accept)

# ---------------------------------------------------------------- data

@contextlib.contextmanager
def data_dir(path: Path) -> Iterator[None]:
    """DLAPP_DATA_DIR pointed at `path` for the duration (settings are read on each load)."""
    old = os.environ.get("DLAPP_DATA_DIR")
    os.environ["DLAPP_DATA_DIR"] = str(path)
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("DLAPP_DATA_DIR", None)
        else:
            os.environ["DLAPP_DATA_DIR"] = old


def write_known(data, known: list[int], folder: Path) -> None:
    """cifar10.npz with only the `known` classes, relabelled 0..k-1, in Keras's layout."""
    remap = np.full(len(CIFAR10_CLASSES), -1)
    remap[known] = np.arange(len(known))
    train_keep, test_keep = remap[data.y_train] >= 0, remap[data.y_test] >= 0
    np.savez(folder / "cifar10.npz", x_train=data.x_train[train_keep], y_train=remap[data.y_train[train_keep]],
             x_test=data.x_test[test_keep], y_test=remap[data.y_test[test_keep]],
             class_names=np.array([CIFAR10_CLASSES[i] for i in known]))


def noise_uniform(n: int, rng: np.random.Generator) -> np.ndarray:
    return rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)


def noise_gaussian(n: int, rng: np.random.Generator) -> np.ndarray:
    return np.clip(rng.normal(127.5, 50.0, (n, 32, 32, 3)), 0, 255).astype(np.uint8)  # ±2.5σ fits in 0..255


def flat_colours(n: int, rng: np.random.Generator) -> np.ndarray:
    return np.broadcast_to(rng.integers(0, 256, (n, 1, 1, 3), dtype=np.uint8), (n, 32, 32, 3)).copy()


def rendered_words(n: int, rng: np.random.Generator) -> np.ndarray:
    """A word or two on a plain background at 128×128, brought to 32×32 the way an upload is."""
    from PIL import Image, ImageDraw, ImageFont

    from dlapp.images import fit_image

    out = []
    for _ in range(n):
        bg = tuple(int(c) for c in rng.integers(0, 256, 3))
        ink = (0, 0, 0) if sum(bg) > 3 * 128 else (255, 255, 255)  # legible: dark on light, light on dark
        word = WORDS[rng.integers(len(WORDS))]
        img = Image.new("RGB", (128, 128), bg)
        draw = ImageDraw.Draw(img)
        size = int(rng.integers(18, 48))
        font = ImageFont.load_default(size=size)
        while draw.textlength(word, font=font) > 120 and size > 8:  # shrink until it fits the width
            size -= 2
            font = ImageFont.load_default(size=size)
        draw.text((64, int(rng.integers(32, 96))), word, fill=ink, font=font, anchor="mm")
        out.append(fit_image(img, (32, 32), 3))
    return np.stack(out)


# Everyday photos that are none of CIFAR-10's classes, from the images scikit-image and scikit-learn ship
# (install them in a benchmark venv only: `pip install scikit-image scikit-learn`; they are not dlapp's
# dependencies). Left out: chelsea (a cat), horse (a horse's silhouette), and non-photos (phantom, logo,
# chessboards, colour charts). Training never sees any of them: the outliers it learns from are made up
# (dlapp/data/outliers.py).
SKIMAGE_PHOTOS = ("astronaut", "brick", "camera", "cell", "coffee", "coins", "grass", "gravel", "hubble_deep_field",
                  "immunohistochemistry", "microaneurysms", "moon", "stereo_motorcycle", "page", "retina", "rocket",
                  "text", "clock")
SKLEARN_PHOTOS = ("china.jpg", "flower.jpg")


def _crops(img) -> list:
    """A photo as a visitor might send it: whole, each 60% corner, and the middle half."""
    w, h = img.size
    cw, ch = int(w * 0.6), int(h * 0.6)
    boxes = [(0, 0, cw, ch), (w - cw, 0, w, ch), (0, h - ch, cw, h), (w - cw, h - ch, w, h),
             (w // 4, h // 4, w - w // 4, h - h // 4)]
    return [img] + [img.crop(b) for b in boxes]


def real_photos() -> dict[str, list]:
    """{"photos": PIL images (20 photos × 6 framings), "faces": LFW's 100 face crops}; exits with what to
    install when scikit-image or scikit-learn is missing."""
    from PIL import Image

    try:
        import skimage.data
        from sklearn.datasets import load_sample_image
    except ImportError:
        sys.exit("The real-photo rows need scikit-image and scikit-learn (benchmark venv only): "
                 "pip install scikit-image scikit-learn")
    photos = []
    for name in SKIMAGE_PHOTOS:
        arr = getattr(skimage.data, name)()
        arr = arr[0] if isinstance(arr, tuple) else arr  # stereo_motorcycle: (left, right, disparity)
        photos += _crops(Image.fromarray(arr.astype(np.uint8)).convert("RGB"))
    for name in SKLEARN_PHOTOS:
        photos += _crops(Image.fromarray(load_sample_image(name)).convert("RGB"))
    faces = skimage.data.lfw_subset()[:100]  # the first 100 are faces (the rest: non-face patches)
    return {"photos": photos, "faces": [Image.fromarray((f * 255).astype(np.uint8)).convert("RGB") for f in faces]}


def as_uploads(images: list, side: int = 32) -> np.ndarray:
    """What the model sees of each picture: dlapp's own upload path (fit_image)."""
    from dlapp.images import fit_image

    return np.stack([fit_image(img, (side, side), 3) for img in images])


# ---------------------------------------------------------------- scores

def probe_model(model):
    """x -> the exported model's classifier's (features, logits), averaged over the test-time views
    its answer averaged (with a ViewsWhenUnsure: every view only where the first was unsure)."""
    from dlapp.backend import keras
    from dlapp.layers import MeanOverViews, StackViews, ViewsWhenUnsure, top_probability, trained_network

    classifier = trained_network(model) or model
    head = [layer for layer in classifier.layers if isinstance(layer, keras.layers.Dense)][-1]
    last = classifier.layers[-1]
    if isinstance(last, keras.layers.Activation):  # airbench: Dense → ×1/9 → softmax; the logits are its input
        probe = keras.Model(classifier.inputs, [head.input, last.input])
    else:
        inputs = keras.Input(model.input_shape[1:], dtype="uint8")
        f = keras.Model(classifier.inputs, head.input)(inputs)
        probe = keras.Model(inputs, [f, keras.ops.matmul(f, head.kernel) + head.bias])
    names = {layer.name: layer for layer in model.layers}
    gated = next((layer for layer in model.layers if isinstance(layer, ViewsWhenUnsure)), None)
    stack, mean = (gated.stack, gated.mean) if gated else (names.get("views"), names.get("view_mean"))
    if not isinstance(stack, StackViews) or not isinstance(mean, MeanOverViews):
        return lambda x: probe.predict(x, batch_size=512, verbose=0)

    def averaged(x):
        every = [np.asarray(mean(t)) for t in probe.predict(np.asarray(stack(x)), batch_size=512, verbose=0)]
        if gated is None:
            return every
        first = probe.predict(x, batch_size=512, verbose=0)
        unsure = np.asarray(top_probability(classifier.predict(x, batch_size=512, verbose=0)) < gated.gate)
        return [np.where(unsure[:, None], e, f1) for e, f1 in zip(every, first, strict=True)]

    return averaged


def energy_score(logits: np.ndarray, temperature: float) -> np.ndarray:
    """−energy = T·logsumexp(z / T): higher means more in-distribution."""
    z = logits.astype(np.float64) / temperature
    top = z.max(axis=1)
    return temperature * (top + np.log(np.exp(z - top[:, None]).sum(axis=1)))


def fit_mahalanobis(features: np.ndarray, y: np.ndarray):
    """−(squared Mahalanobis distance to the nearest class mean), one covariance shared by all
    classes (Lee et al. 2018), fitted on in-distribution training features."""
    features = features.astype(np.float64)
    classes, y = np.unique(y, return_inverse=True)
    means = np.stack([features[y == c].mean(axis=0) for c in range(len(classes))])
    centred = features - means[y]
    cov = centred.T @ centred / len(y)
    precision = np.linalg.inv(cov + 1e-6 * np.trace(cov) / len(cov) * np.eye(len(cov)))  # a tiny ridge

    def score(f: np.ndarray) -> np.ndarray:
        d = f.astype(np.float64)[:, None, :] - means[None]  # (N, classes, F)
        return -np.einsum("ncf,fg,ncg->nc", d, precision, d).min(axis=1)

    return score


def centred_log_probs(p: np.ndarray) -> np.ndarray:
    """log p minus its mean over classes, less one class: the logits up to their per-input shift,
    read from the model's output alone (rank K - 1, so one coordinate is dropped)."""
    log_p = np.log(np.clip(np.asarray(p, dtype=np.float64), 1e-7, 1.0))
    return (log_p - log_p.mean(axis=1, keepdims=True))[:, :-1]


def auroc(pos: np.ndarray, neg: np.ndarray) -> float:
    """P(score of a random in-distribution input > that of a random OOD one), ties counted half."""
    scores = np.concatenate([pos, neg])
    ranks = np.empty(len(scores))
    ranks[np.argsort(scores, kind="mergesort")] = np.arange(1, len(scores) + 1)
    _, tie, counts = np.unique(scores, return_inverse=True, return_counts=True)
    ranks = (np.bincount(tie, weights=ranks) / counts)[tie]  # average rank within each run of ties
    return float((ranks[:len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def fpr_at(pos: np.ndarray, neg: np.ndarray, accept: float = ACCEPT) -> float:
    """Share of OOD scores at or above the threshold that accepts `accept` of in-distribution ones."""
    return float((neg >= np.quantile(pos, 1.0 - accept)).mean())


# ---------------------------------------------------------------- main

def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--known", default=",".join(DEFAULT_KNOWN), help="comma-separated CIFAR-10 classes")
    parser.add_argument("--per-class", type=int, default=2000, help="training images per known class")
    parser.add_argument("--epochs", type=int, default=None, help="default: the fast preset's")
    parser.add_argument("--synthetic", type=int, default=500, help="inputs per synthetic OOD kind")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model", default=None,
                        help="a cached CIFAR-10 model (e.g. cifar10-best) to test as it is, on the synthetic "
                             "inputs only: no training, every class known")
    parser.add_argument("--compare", default=None,
                        help="comma-separated models to compare on real photos, upscaled CIFAR-10 and synthetic "
                             "inputs: cached ids, or COMMIT:ID for a shipped model as it was at a git commit")
    parser.add_argument("--upscaled", type=int, default=2000, help="CIFAR-10 test images upscaled to 256 px")
    args = parser.parse_args()
    if not os.environ.get("DLAPP_DATA_DIR"):
        sys.exit("Set DLAPP_DATA_DIR to the folder holding cifar10.npz (e.g. DLAPP_DATA_DIR=../shared/data).")
    return args


def trained_model(args, full):
    """(model, card, known class indices, unknown ones): `fast` trained on the known classes only."""
    names = [s.strip() for s in args.known.split(",") if s.strip()]
    if unknown_names := sorted(set(names) - set(CIFAR10_CLASSES)):
        sys.exit(f"Not CIFAR-10 classes: {', '.join(unknown_names)}. Choose from {', '.join(CIFAR10_CLASSES)}.")
    known = [CIFAR10_CLASSES.index(s) for s in names]
    unknown = [i for i in range(len(CIFAR10_CLASSES)) if i not in known]
    if len(known) < 2 or not unknown:
        sys.exit("--known needs at least 2 classes and must leave at least one out.")
    with tempfile.TemporaryDirectory(prefix="dlapp-openset-") as tmp:
        write_known(full, known, Path(tmp))
        store = ModelStore(Path(tmp) / "models")
        t0 = time.perf_counter()
        with data_dir(Path(tmp)):
            result = train(TrainConfig(dataset="cifar10", preset="fast", subset=args.per_class, epochs=args.epochs,
                                       seed=args.seed, name="openset"), store=store, force=True)
        model, card = store.load(result.model_id), result.card
    print(f"known: {', '.join(card.class_names)} ({args.per_class}/class, preset fast, "
          f"{card.hyperparameters['epochs']} epochs); unknown: {', '.join(CIFAR10_CLASSES[c] for c in unknown)}")
    print(f"train: {card.provenance.training_time_s:.0f} s fitting, {time.perf_counter() - t0:.0f} s wall for "
          f"train() ({card.dataset.train_examples:,} train / {card.dataset.validation_examples:,} validation "
          f"images, {card.provenance.device})")
    return model, card, known, unknown


def cached_model(args):
    """(model, card, every class, none unknown): a model from the cache, as it is."""
    from dlapp.inference import get_store

    store = get_store()
    card = store.card(args.model)
    if list(card.class_names) != list(CIFAR10_CLASSES):
        sys.exit(f"{args.model} is not a CIFAR-10 model (its classes: {', '.join(card.class_names)}).")
    print(f"model: {args.model} as cached (all 10 classes known; out-of-distribution: synthetic inputs only)")
    return store.load(args.model), card, list(range(len(CIFAR10_CLASSES))), []


def score_groups(model, card, full, known, unknown, args):
    """Test inputs by kind, and each score and top class per kind (pooled kinds included)."""
    rng = np.random.default_rng(args.seed)
    in_test = np.isin(full.y_test, known)
    groups: dict[str, np.ndarray] = {"in-distribution": full.x_test[in_test]}
    for c in unknown:
        groups[f"unknown: {CIFAR10_CLASSES[c]}"] = full.x_test[full.y_test == c]
    for kind, make in (("uniform noise", noise_uniform), ("gaussian noise", noise_gaussian),
                       ("flat colour", flat_colours), ("rendered words", rendered_words)):
        groups[kind] = make(args.synthetic, rng)

    probe = probe_model(model)
    pick = np.flatnonzero(np.isin(full.y_train, known))[: 1000 * len(known)]  # ~1000 training images per class
    fit_f, fit_z = probe(full.x_train[pick])
    mahalanobis = fit_mahalanobis(fit_f, full.y_train[pick])
    on_probs = fit_mahalanobis(centred_log_probs(probabilities(model, full.x_train[pick])), full.y_train[pick])
    scores: dict[str, dict[str, np.ndarray]] = {name: {} for name in SCORES}
    top: dict[str, np.ndarray] = {}
    for kind, x in groups.items():
        p = probabilities(model, x)
        f, z = probe(x)
        top[kind] = p.argmax(axis=1)
        scores["max-softmax"][kind] = p.max(axis=1)
        scores["energy"][kind] = energy_score(np.asarray(z), card.calibration.temperature)
        scores["mahalanobis"][kind] = mahalanobis(np.asarray(f))
        scores["mahalanobis, probs"][kind] = on_probs(centred_log_probs(p))
    pooled = {"all unknown classes": [k for k in groups if k.startswith("unknown")],
              "all synthetic": [k for k in groups if k != "in-distribution" and not k.startswith("unknown")],
              "all OOD": [k for k in groups if k != "in-distribution"]}
    for label, kinds in pooled.items():
        if kinds:
            top[label] = np.concatenate([top[k] for k in kinds])
            for by_kind in scores.values():
                by_kind[label] = np.concatenate([by_kind[k] for k in kinds])
    return scores, top


def report(card, scores, top) -> None:
    threshold = card.calibration.none_threshold
    classes, msp = card.class_names, scores["max-softmax"]
    ind = {name: by_kind["in-distribution"] for name, by_kind in scores.items()}
    print(f"test accuracy on the known classes {card.metrics.test_accuracy:.1%}; temperature "
          f"{card.calibration.temperature:.3f}; stored threshold {threshold:.3f} on the top calibrated probability")
    print(f"in-distribution accepted at the stored threshold: {(ind['max-softmax'] >= threshold).mean():.1%} of "
          f"{len(ind['max-softmax']):,} test images (target {ACCEPT:.0%}; the card says {card.metrics.accepted:.1%} "
          f"on its {card.metrics.test_examples:,})\n")
    short = {"max-softmax": "maxsoft", "energy": "energy", "mahalanobis": "mahal.", "mahalanobis, probs": "m.probs"}
    width = 9 * len(SCORES) - 1
    print(f"{'OOD kind':<22} {'n':>5} {' AUROC ':-^{width}} {'accepted at':>12} {' FPR@95 ':-^{width}}  "
          "most often called")
    print(f"{'':<22} {'':>5} " + " ".join(f"{short[n]:>8}" for n in SCORES) + f" {'threshold':>12} "
          + " ".join(f"{short[n]:>8}" for n in SCORES))
    for kind in (k for k in msp if k != "in-distribution"):
        votes = np.bincount(top[kind], minlength=len(classes))
        called = f"{classes[int(votes.argmax())]} ({votes.max() / votes.sum():.0%})"
        aurocs = " ".join(f"{auroc(ind[n], scores[n][kind]):>8.3f}" for n in SCORES)
        fprs = " ".join(f"{fpr_at(ind[n], scores[n][kind]):>8.1%}" for n in SCORES)
        print(f"{kind:<22} {len(msp[kind]):>5} {aurocs} {(msp[kind] >= threshold).mean():>12.1%} {fprs}  {called}")
    print(f"{'in-distribution (ref.)':<22} {len(ind['max-softmax']):>5} " + " ".join(f"{'-':>8}" for _ in SCORES)
          + f" {(ind['max-softmax'] >= threshold).mean():>12.1%} " + " ".join(f"{ACCEPT:>8.0%}" for _ in SCORES)
          + "  (accepted shares; AUROC 0.5 = chance)")


def load_for_compare(spec: str, scratch: Path):
    """(label, model, card) for a cached model id, or `COMMIT:ID` for a shipped model as it was at a git
    commit (read with `git show` into a scratch store), so an old model and its successor meet in one run."""
    import subprocess

    from dlapp.inference import get_store

    if ":" not in spec:
        store = get_store()
        return spec, store.load(spec), store.card(spec)
    commit, model_id = spec.split(":", 1)
    root = scratch / commit
    root.mkdir(parents=True, exist_ok=True)
    repo = Path(__file__).resolve().parents[1]
    for ext in ("keras", "json"):
        blob = subprocess.run(["git", "-C", str(repo), "show", f"{commit}:models/{model_id}.{ext}"],
                              capture_output=True, check=True).stdout
        (root / f"{model_id}.{ext}").write_bytes(blob)
    store = ModelStore(root)
    return f"{model_id} @ {commit[:7]}", store.load(model_id), store.card(model_id)


def compare(specs: list[str], full, args) -> None:
    """Old and new models side by side, on one protocol, in one run: accuracy on the full test split,
    the all-synthetic AUROC of the top probability, and the share declined ("none of these" at each
    model's stored threshold) of real photos, of faces, and of CIFAR-10 test images upscaled to 256 px."""
    from dlapp.tasks.image import TASK

    rng = np.random.default_rng(args.seed)
    synthetic = np.concatenate([make(args.synthetic, rng) for make in
                                (noise_uniform, noise_gaussian, flat_colours, rendered_words)])
    real = {kind: as_uploads(images) for kind, images in real_photos().items()}
    pick = rng.permutation(len(full.y_test))[:args.upscaled]
    big = TASK.as_uploaded(full.x_test[pick])  # enlarged to 256 px, fitted back: what calibration uses too
    rows = []
    with tempfile.TemporaryDirectory(prefix="dlapp-openset-") as tmp:
        for spec in specs:
            label, model, card = load_for_compare(spec, Path(tmp))
            threshold = card.calibration.none_threshold
            p_test = probabilities(model, full.x_test)
            top_in, top_syn = p_test.max(axis=1), probabilities(model, synthetic).max(axis=1)
            declined = {kind: float((probabilities(model, x).max(axis=1) < threshold).mean())
                        for kind, x in real.items()}
            rows.append((label, float((p_test.argmax(axis=1) == full.y_test).mean()), auroc(top_in, top_syn),
                         float((top_syn >= threshold).mean()), declined["photos"], declined["faces"],
                         float((probabilities(model, big).max(axis=1) < threshold).mean()),
                         float((top_in < threshold).mean()), threshold))
    print(f"real photos: {len(real['photos'])} framings of {len(SKIMAGE_PHOTOS) + len(SKLEARN_PHOTOS)} photos; "
          f"faces: {len(real['faces'])} (LFW); upscaled CIFAR-10 test: {len(big):,}; synthetic: {len(synthetic):,}")
    head = ("model", "test acc", "AUROC syn", "syn accepted", "photos declined", "faces declined",
            "CIFAR@256 declined", "test declined", "threshold")
    print(" | ".join(head))
    for label, *values in rows:
        print(" | ".join([label, *(f"{v:.1%}" if i not in (1, 7) else f"{v:.3f}" for i, v in enumerate(values))]))


def main() -> None:
    args = parse_args()
    full = load_dataset("cifar10", data_dir=Path(os.environ["DLAPP_DATA_DIR"]))
    if args.compare:
        compare(args.compare.split(","), full, args)
        return
    model, card, known, unknown = cached_model(args) if args.model else trained_model(args, full)
    report(card, *score_groups(model, card, full, known, unknown, args))


if __name__ == "__main__":
    main()
