"""A learned "none" output against the top probability: which score says "none of these" better?

    pip install scikit-image scikit-learn     # a benchmark venv only (the real photos)
    DLAPP_DATA_DIR=../shared/data python benchmarks/none_output_bench.py [--epochs 3] [--seed 0]

Two networks of the `fast` preset (airbench94's recipe on a 32/64/128 net), trained the same way on all of
CIFAR-10 in this script's own loop (dlapp's network builder, augmentations, optimizer and outlier bank), one
seed each:
- A, what dlapp ships: 10 outputs; outlier-exposure images get uniform targets (Hendrycks et al. 2019);
- B, a learned "none": 11 outputs; the same outlier images are labelled with the 11th class.
Scores (higher = one of the 10 classes): A's top probability; B's 1 − P(none), and B's top probability
among the 10 known classes (not renormalised). Each threshold is placed, as dlapp places its own, to
accept 93% of 1,000 held-out training images (as they are and as uploaded). One view, no temperature,
for both. Reported from the same run: test accuracy (the 10 classes), all-synthetic AUROC, and the
share declined of real photos, faces, and CIFAR-10 test images uploaded at 256 px (openset_bench.py's
protocol and sets).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from openset_bench import (  # noqa: E402
    as_uploads,
    auroc,
    flat_colours,
    noise_gaussian,
    noise_uniform,
    real_photos,
    rendered_words,
)

from dlapp.backend import keras, tf  # noqa: E402
from dlapp.data import load_dataset  # noqa: E402
from dlapp.data.outliers import outlier_bank  # noqa: E402
from dlapp.nets.image import build_image_model  # noqa: E402
from dlapp.tasks.image import PRESETS, TASK  # noqa: E402
from dlapp.training.augment import add_outliers, as_uploaded, flip_and_translate  # noqa: E402
from dlapp.training.optim import AirbenchSGD, WarmupWarmdown, keras_units  # noqa: E402

ACCEPT = 0.93  # dlapp's NONE_ACCEPT


def train(x, y, *, learned_none: bool, epochs: int, seed: int) -> keras.Model:
    preset = PRESETS["fast"]
    keras.utils.set_random_seed(seed)
    k = 10
    model = build_image_model(preset, x.shape[1:], k + learned_none, sample=x[:5000])
    bank = outlier_bank(preset.outlier_bank, x.shape[1:], seed=0)

    def with_outliers(images, labels):
        images, labels, weights = add_outliers(images, labels, bank, share=preset.outliers,
                                               weight=preset.outlier_weight)
        if learned_none:  # the outlier rows (uniform targets) become the 11th class
            outlier = tf.cast(tf.reduce_max(labels, axis=-1, keepdims=True) < 0.5, labels.dtype)
            labels = tf.concat([labels * (1 - outlier), outlier], axis=-1)
        return images, labels, weights

    ds = tf.data.Dataset.from_tensor_slices((x, np.eye(k, dtype="float32")[y])).shuffle(len(y), seed=seed)
    ds = ds.batch(preset.batch_size).map(lambda a, b: flip_and_translate(a, b, preset.translate))
    ds = ds.map(lambda a, b: as_uploaded(a, b, preset.upload_augment)).map(with_outliers).prefetch(2)
    total = epochs * int(np.ceil(len(y) / preset.batch_size))
    lr, wd = keras_units(preset.learning_rate, preset.weight_decay, preset.batch_size)
    model.compile(AirbenchSGD(WarmupWarmdown(lr, total), total_steps=total, weight_decay=wd,
                              whiten_bias_steps=round(total * 3 / 9.9)),
                  keras.losses.CategoricalCrossentropy(label_smoothing=preset.label_smoothing))
    model.fit(ds, epochs=epochs, verbose=2)
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=PRESETS["fast"].epochs)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    full = load_dataset("cifar10", data_dir=Path(os.environ["DLAPP_DATA_DIR"]))
    rng = np.random.default_rng(args.seed)
    held = rng.permutation(len(full.y_train))
    val, tr = held[:1000], held[1000:]
    x_val = np.concatenate([full.x_train[val], TASK.as_uploaded(full.x_train[val])])
    synthetic = np.concatenate([f(500, rng) for f in (noise_uniform, noise_gaussian, flat_colours, rendered_words)])
    sets = {kind: as_uploads(images) for kind, images in real_photos().items()}
    sets["CIFAR@256"] = TASK.as_uploaded(full.x_test[rng.permutation(len(full.y_test))[:2000]])
    rows = []
    for learned_none in (False, True):
        t0 = time.perf_counter()
        model = train(full.x_train[tr], full.y_train[tr], learned_none=learned_none, epochs=args.epochs,
                      seed=args.seed)
        fit = time.perf_counter() - t0

        def probs(x, model=model):
            return model.predict(x, batch_size=500, verbose=0)

        scores = {"top probability (A, shipped)": lambda p: p.max(axis=1)} if not learned_none else {
            "1 - P(none) (B)": lambda p: 1 - p[:, -1], "top known probability (B)": lambda p: p[:, :10].max(axis=1)}
        p_test, p_val, p_syn = probs(full.x_test), probs(x_val), probs(synthetic)
        p_sets = {kind: probs(x) for kind, x in sets.items()}
        accuracy = float((p_test[:, :10].argmax(axis=1) == full.y_test).mean())
        for name, score in scores.items():
            threshold = np.quantile(score(p_val), 1 - ACCEPT)
            rows.append((name, accuracy, auroc(score(p_test), score(p_syn)),
                         *(float((score(p) < threshold).mean()) for p in p_sets.values()),
                         float((score(p_test) < threshold).mean()), fit))
    print(f"\nfast preset, {args.epochs} epochs, seed {args.seed}; thresholds accept {ACCEPT:.0%} of 1,000 held-out "
          f"training images (as they are and as uploaded); {len(sets['photos'])} photo framings, "
          f"{len(sets['faces'])} faces, 2,000 CIFAR-10 test images at 256 px, 2,000 synthetic")
    print("| score | test accuracy | AUROC, all synthetic | photos declined | faces declined | CIFAR@256 declined | "
          "test declined | fit |\n|---|---|---|---|---|---|---|---|")
    for name, acc, au, photos, faces, big, test, fit in rows:
        print(f"| {name} | {acc:.2%} | {au:.3f} | {photos:.1%} | {faces:.1%} | {big:.1%} | {test:.1%} | {fit:.0f} s |")


if __name__ == "__main__":
    main()
