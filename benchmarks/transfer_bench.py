"""Transfer from a few pictures: the image `transfer` preset beside `fast` from scratch, same images, same run.

    DLAPP_DATA_DIR=../shared/data python benchmarks/transfer_bench.py [--seeds 3] [--backbone-epochs 10]
        [--scratch-epochs 80] [--scratch-batch 16] [--work-dir /tmp/dlapp-transfer-bench]
        [--no-shipped | --only-shipped]

Protocol (held-out classes). A backbone is trained with dlapp's own `train()` (preset `fast`,
`--backbone-epochs` epochs, all 5,000 training images of each class, the preset's 10% validation
split) on CIFAR-10's first 5 classes only (airplane, automobile, bird, cat, deer), and cached as
`bench-backbone-5` in a scratch model cache (`<work-dir>/models`), so a rerun reuses it. Its own test
accuracy on those 5 classes is printed. Then, for each seed (a different draw of the pictures), the
`transfer` preset (`backbone=bench-backbone-5`) and `fast` from scratch each train on the same 20
training-split pictures per class of the held-out classes, for the 5-class task (dog, frog, horse,
ship, truck) and for 2-class pairs of them, and are tested on the full test split of those classes
(1,000 per class).

Shipped backbone. `transfer` with its default backbone, the shipped `cifar10-best` (copied into the
scratch cache), beside `fast` from scratch, on 20 pictures per class of all 10 classes, tested on
all 10,000 test images. cifar10-best saw these 10 classes (49,000 images) in training, so this is
not the held-out case: it is what a user with CIFAR-like classes gets.

How the data reaches `train()`: each task is a class folder `<root>/train/<class>/*.png` (the drawn
pictures, written losslessly) beside `<root>/test/<class>/*.png` (every test image of those classes).
With a `test/` folder, dlapp carves no test split out of the training pictures, so all 20 per class
go to training + validation (the presets' 10% validation split, drawn by the run's seed, identical
for both presets of a row), and `train()` itself scores the model on the full test split.
Both presets read the pictures at 32×32, the size they are stored at (`image_size=32`).

Each row gives test accuracy, the wall time of the `train()` call (reading the folder, the fit,
calibration, test evaluation on the whole test split and saving) and the fit time the card records.
Targets (the transfer issue), on the held-out classes: `transfer` >= 20 points above `fast` from
scratch on the same pictures; `transfer` trains in <= 30 s wall for 5 classes x 20 pictures.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dlapp.data.registry import CIFAR10_CLASSES  # noqa: E402  (light: no TensorFlow yet)

BACKBONE = "bench-backbone-5"
BACKBONE_CLASSES = CIFAR10_CLASSES[:5]
HELD_OUT = CIFAR10_CLASSES[5:]
PAIRS = (("dog", "ship"), ("frog", "truck"), ("dog", "horse"))  # an easy, a middling and a hard pair
PER_CLASS = 20
GAIN_TARGET = 0.20  # transfer - scratch, test accuracy
TIME_TARGET_S = 30.0  # train() wall, 5 classes x 20 pictures


# ---------------------------------------------------------------- data

def write_split(folder: Path, x: np.ndarray, y: np.ndarray, classes: tuple[str, ...]) -> None:
    """`folder/<class>/<n>.png` for each image whose CIFAR-10 label is one of `classes` (lossless)."""
    from PIL import Image

    for name in classes:
        (folder / name).mkdir(parents=True, exist_ok=True)
        for i in np.flatnonzero(y == CIFAR10_CLASSES.index(name)):
            Image.fromarray(x[i]).save(folder / name / f"{i:05d}.png", compress_level=1)


def test_split(full, classes: tuple[str, ...], root: Path) -> Path:
    """Every test image of `classes`, written once and shared by all tasks on those classes."""
    folder = root / f"test-{'-'.join(classes)}"
    if not (folder / ".complete").is_file():
        shutil.rmtree(folder, ignore_errors=True)
        write_split(folder, full.x_test, full.y_test, classes)
        (folder / ".complete").touch()
    return folder


def task_folder(full, classes: tuple[str, ...], per_class: int | None, seed: int, root: Path) -> Path:
    """A class folder: `per_class` training pictures per class drawn with `seed` (None: all of them),
    and the full test split of those classes."""
    folder = root / f"{'-'.join(classes)}-{per_class or 'all'}-s{seed}"
    if not (folder / ".complete").is_file():
        shutil.rmtree(folder, ignore_errors=True)
        rng = np.random.default_rng(seed)
        ids = [CIFAR10_CLASSES.index(c) for c in classes]
        picks = [rng.permutation(np.flatnonzero(full.y_train == c))[:per_class] for c in ids]
        pick = np.sort(np.concatenate(picks))
        write_split(folder / "train", full.x_train[pick], full.y_train[pick], classes)
        (folder / "test").symlink_to(test_split(full, classes, root).resolve(), target_is_directory=True)
        (folder / ".complete").touch()
    return folder


# ---------------------------------------------------------------- training

def run(folder: Path, preset: str, *, seed: int, name: str, force: bool = True, **overrides) -> dict:
    """train() on a task folder: accuracy on its test split, wall time of the call, the card's fit time."""
    from dlapp.training import TrainConfig, train

    config = TrainConfig(dataset=str(folder), preset=preset, image_size=32, seed=seed, name=name, **overrides)
    t0 = time.perf_counter()
    result = train(config, force=force)
    wall = time.perf_counter() - t0
    card = result.card
    return {"acc": card.test_accuracy, "wall": wall, "fit": card.provenance.training_time_s,
            "train": card.dataset.train_examples, "val": card.dataset.validation_examples,
            "test": card.dataset.test_examples, "cached": result.cached, "card": card}


def backbone(full, args, data_root: Path) -> dict:
    folder = task_folder(full, BACKBONE_CLASSES, None, 0, data_root)
    r = run(folder, "fast", seed=0, name=BACKBONE, force=False, epochs=args.backbone_epochs)
    how = "reused from the scratch cache" if r["cached"] else "trained in this run"
    print(f"backbone {BACKBONE}: fast, {args.backbone_epochs} epochs on {', '.join(BACKBONE_CLASSES)} "
          f"({r['train']:,} train / {r['val']:,} validation pictures), {how}")
    print(f"  its own test accuracy on those 5 classes: {r['acc']:.2%} of {r['test']:,}; "
          f"fit {r['fit']:.0f} s (card), train() {r['wall']:.0f} s wall\n", flush=True)
    return r


def pair_rows(full, classes: tuple[str, ...], seed: int, args, data_root: Path, backbone_id: str) -> dict:
    """(transfer, scratch) on the same folder: identical training, validation and test pictures."""
    from dlapp.tasks.image import PRESETS

    folder = task_folder(full, classes, PER_CLASS, seed, data_root)
    tag = f"{len(classes)}c-{'-'.join(c[:3] for c in classes)}-s{seed}"
    transfer = run(folder, "transfer", seed=seed, name=f"tb-{tag}-transfer", backbone=backbone_id)
    # fast holds out 2% for validation (airbench's recipe), transfer 10%: the same split for both rows
    scratch = run(folder, "fast", seed=seed, name=f"tb-{tag}-scratch", epochs=args.scratch_epochs,
                  batch_size=args.scratch_batch, validation_split=PRESETS["transfer"].validation_split)
    assert all(transfer[k] == scratch[k] for k in ("train", "val", "test")), "the two rows saw different data"
    return {"classes": classes, "seed": seed, "transfer": transfer, "scratch": scratch}


# ---------------------------------------------------------------- report

def label(classes: tuple[str, ...]) -> str:
    return "all of CIFAR-10" if classes == CIFAR10_CLASSES else "/".join(classes)


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def spread(values: list[float], *, signed: bool = False) -> str:
    """mean ± sample standard deviation (min..max), in percent (signed: in points)."""
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    pts = [100 * v for v in (statistics.mean(values), sd, min(values), max(values))]
    if signed:
        return f"{pts[0]:+.1f} ± {pts[1]:.1f} pts ({pts[2]:+.1f}..{pts[3]:+.1f})"
    return f"{pts[0]:.1f}% ± {pts[1]:.1f} ({pts[2]:.1f}..{pts[3]:.1f})"


def print_rows(title: str, rows: list[dict], *, targets: bool) -> None:
    print(title)
    print(f"{'task':<30} {'seed':>4} {'transfer':>9} {'scratch':>8} {'gain pts':>8} {'wall T':>7} {'fit T':>6} "
          f"{'wall S':>7} {'fit S':>6}  verdicts")
    for r in rows:
        t, s = r["transfer"], r["scratch"]
        gain = t["acc"] - s["acc"]
        notes = []
        if targets:
            notes.append(f"gain >= +{100 * GAIN_TARGET:.0f} pts: {verdict(gain >= GAIN_TARGET)}")
            if len(r["classes"]) == 5:
                notes.append(f"<= {TIME_TARGET_S:.0f} s: {verdict(t['wall'] <= TIME_TARGET_S)}")
        task = f"{len(r['classes'])}: {label(r['classes'])}"
        print(f"{task:<30} {r['seed']:>4} {t['acc']:>9.1%} {s['acc']:>8.1%} {100 * gain:>+8.1f} {t['wall']:>6.1f}s "
              f"{t['fit']:>5.1f}s {s['wall']:>6.1f}s {s['fit']:>5.1f}s  {'; '.join(notes)}")
    first = rows[0]
    print(f"  each: {first['transfer']['train']} train + {first['transfer']['val']} validation pictures "
          f"(same for both presets), {first['transfer']['test']:,} test images\n", flush=True)


def summary(title: str, rows: list[dict], *, targets: bool, timed: bool) -> None:
    t = [r["transfer"]["acc"] for r in rows]
    s = [r["scratch"]["acc"] for r in rows]
    gains = [a - b for a, b in zip(t, s, strict=True)]
    walls, fits = [r["transfer"]["wall"] for r in rows], [r["transfer"]["fit"] for r in rows]
    line = f"{title:<26} transfer {spread(t)}   scratch {spread(s)}   gain {spread(gains, signed=True)}"
    if targets:
        line += f"   gain >= +{100 * GAIN_TARGET:.0f} pts: {verdict(statistics.mean(gains) >= GAIN_TARGET)}"
        line += f" (mean), {verdict(min(gains) >= GAIN_TARGET)} (every run)"
    print(line)
    if timed:
        print(f"{'':<26} transfer train() wall {statistics.mean(walls):.1f} s mean, {max(walls):.1f} s max "
              f"(the first includes loading the backbone); fit {statistics.mean(fits):.1f} s mean (card)"
              f"   <= {TIME_TARGET_S:.0f} s: {verdict(max(walls) <= TIME_TARGET_S)} (every run)")
    print(f"{'':<26} scratch train() wall {statistics.mean(r['scratch']['wall'] for r in rows):.1f} s mean",
          flush=True)


# ---------------------------------------------------------------- main

def setup(args) -> tuple[object, Path]:
    """The full CIFAR-10 arrays, and the scratch model cache (with the shipped cifar10-best)."""
    from dlapp import settings
    from dlapp.data import load_dataset

    if not os.environ.get("DLAPP_DATA_DIR"):
        sys.exit("Set DLAPP_DATA_DIR to the folder holding cifar10.npz (e.g. DLAPP_DATA_DIR=../shared/data).")
    models = args.work_dir / "models"
    models.mkdir(parents=True, exist_ok=True)
    for suffix in (".keras", ".json"):
        target = models / f"cifar10-best{suffix}"
        if not target.is_file():
            shutil.copy2(settings.SHIPPED_MODEL_DIR / f"cifar10-best{suffix}", target)
    os.environ["DLAPP_MODEL_DIR"] = str(models)  # read by get_store(), which the transfer preset uses
    return load_dataset("cifar10"), args.work_dir / "data"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3, help="draws of the pictures (seeds 0..N-1)")
    parser.add_argument("--backbone-epochs", type=int, default=10, help="about 4 minutes here")
    parser.add_argument("--scratch-epochs", type=int, default=80, help="fast from scratch: epochs")
    parser.add_argument("--scratch-batch", type=int, default=16, help="fast from scratch: batch size")
    parser.add_argument("--shipped-seeds", type=int, default=None, help="default: --seeds")
    parser.add_argument("--no-shipped", action="store_true", help="skip the cifar10-best section")
    parser.add_argument("--only-shipped", action="store_true", help="only the cifar10-best section (a new backbone)")
    parser.add_argument("--work-dir", type=Path, default=Path("/tmp/dlapp-transfer-bench"))
    args = parser.parse_args()
    full, data_root = setup(args)
    t0 = time.perf_counter()
    from dlapp.tasks.image import PRESETS

    p = PRESETS["transfer"]
    print(f"transfer = the preset as it is ({p.epochs} epochs, batch {p.batch_size}, learning rate "
          f"{p.learning_rate:g}, dropout {p.dropout:g}); scratch = fast, {args.scratch_epochs} epochs, batch "
          f"{args.scratch_batch}; {PER_CLASS} training pictures per class; seeds 0..{args.seeds - 1}\n", flush=True)
    five, two = [], []
    if not args.only_shipped:
        backbone(full, args, data_root)
        seeds = range(args.seeds)
        five = [pair_rows(full, HELD_OUT, s, args, data_root, BACKBONE) for s in seeds]
        print_rows(f"Held-out classes, backbone {BACKBONE} (never saw them): 5 classes", five, targets=True)
        two = [pair_rows(full, p, s, args, data_root, BACKBONE) for s in seeds for p in PAIRS]
        print_rows(f"Held-out classes, backbone {BACKBONE}: 2-class pairs", two, targets=True)
    shipped = []
    if not args.no_shipped:
        shipped = [pair_rows(full, CIFAR10_CLASSES, s, args, data_root, "cifar10-best")
                   for s in range(args.shipped_seeds if args.shipped_seeds is not None else args.seeds)]
        print_rows("Shipped backbone cifar10-best (trained on all 10 classes; not held out): 10 classes",
                   shipped, targets=False)
    print(f"Summary over seeds (mean ± sd (min..max); {args.seeds} draws of the pictures):")
    if five:
        summary("held-out, 5 classes", five, targets=True, timed=True)
        summary(f"held-out, 2 classes x{len(PAIRS)}", two, targets=True, timed=False)
    if shipped:
        summary("cifar10-best, 10 classes", shipped, targets=False, timed=False)
    print(f"\nwhole bench: {time.perf_counter() - t0:.0f} s wall")


if __name__ == "__main__":
    main()
