"""Are the cached models' confidences honest? ECE with the fitted temperature and without it.

    DLAPP_DATA_DIR=../shared/data python benchmarks/calibration_bench.py [--model-dir models] [--subset N]
        [--show cifar10-fast]

For each model in the cache, on its own data set's test split (all of it unless --subset N keeps
N per class): accuracy, mean top-class confidence and expected calibration error (15 equal-width
bins, training/calibrate.reliability) of the saved model, beside the same model with its
temperature set back to 1 (calibrate.with_temperature(model, 1.0)), both from this run, and the
ECE its card recorded at training time. Image models also show the share of in-distribution test
images "none of these" accepts at the card's threshold (fitted to accept 95% of held-out ones).
--show prints one model's reliability table, both ways, as ASCII bars.
A model with T = 1 and nothing fitted validated on the test split (the seed tutorials): it has
no held-out data to be calibrated on, so both columns are the same.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dlapp.card import ModelCard  # noqa: E402
from dlapp.data import load_dataset  # noqa: E402
from dlapp.errors import DlappError, UsageError  # noqa: E402
from dlapp.store import ModelStore  # noqa: E402
from dlapp.tasks import get_task  # noqa: E402
from dlapp.training.calibrate import ECE_BINS, reliability, with_temperature  # noqa: E402
from dlapp.training.evaluate import probabilities  # noqa: E402

BAR = 40  # characters for 100% in the reliability bars


def measure(card: ModelCard, model, subset: int | None) -> dict:
    """Test-split probabilities of the saved model and of it at T = 1, with what they score."""
    size = card.input.shape[:2] if len(card.input.shape) == 3 else None  # image folders: the model's size
    data = load_dataset(card.dataset.name, image_size=size, subset=subset)
    if tuple(data.class_names) != card.class_names:
        raise UsageError(f"{card.dataset.name}'s classes differ from the model's")
    x = get_task(card.task).evaluate_inputs(data.x_test)
    t0 = time.perf_counter()
    calibrated = probabilities(model, x)
    raw = probabilities(with_temperature(model, 1.0), x)
    threshold = card.calibration.none_threshold
    return {"y": data.y_test, "calibrated": calibrated, "raw": raw, "seconds": time.perf_counter() - t0,
            "accepted": float((calibrated.max(axis=1) >= threshold).mean()) if threshold is not None else None}


def show(card: ModelCard, m: dict) -> None:
    """Per confidence bin: count, mean confidence and accuracy, calibrated beside T = 1."""
    print(f"\nreliability of {card.id} ({len(m['y']):,} test examples, T = {card.calibration.temperature:g}); "
          f"bar: '#' = accuracy, '|' = mean confidence, {BAR} chars = 100%")
    for label, probs in (("calibrated (saved model)", m["calibrated"]), ("T = 1 (temperature removed)", m["raw"])):
        ece, table = reliability(probs, m["y"])
        print(f"\n{label}: ECE {ece:.4f}")
        print(f"{'bin':>11} {'n':>6} {'conf':>6} {'acc':>6} {'gap':>7}")
        for conf, acc, count in table:
            b = min(int(conf * ECE_BINS), ECE_BINS - 1)
            bar = list("#" * round(acc * BAR) + " " * (BAR - round(acc * BAR)) + " ")
            bar[min(round(conf * BAR), BAR)] = "|"
            print(f"{b / ECE_BINS:5.3f}-{(b + 1) / ECE_BINS:5.3f} {count:>6} {conf:6.3f} {acc:6.3f} "
                  f"{acc - conf:+7.3f} {''.join(bar)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, default=Path(__file__).resolve().parents[1] / "models")
    parser.add_argument("--subset", type=int, default=None, help="test examples per class (default: all)")
    parser.add_argument("--show", default=None, help="a model id whose reliability table to print")
    args = parser.parse_args()
    if not os.environ.get("DLAPP_DATA_DIR"):
        sys.exit("Set DLAPP_DATA_DIR to the folder holding cifar10.npz and imdb.jsonl.gz "
                 "(e.g. DLAPP_DATA_DIR=../shared/data).")
    store = ModelStore(args.model_dir)
    cards = sorted(store.list(), key=lambda c: (c.task, c.id))
    if not cards:
        sys.exit(f"No models in {args.model_dir}.")

    print(f"{args.model_dir}: test split{f' ({args.subset}/class)' if args.subset else ''}; "
          f"ECE over {ECE_BINS} bins; 'T=1' is the same model with its temperature removed")
    print(f"{'model':<16} {'n':>6} {'acc':>6} {'T':>6} {'conf T=1':>9} {'ECE T=1':>8} {'conf':>6} {'ECE':>7} "
          f"{'card ECE':>9} {'accepted':>9} {'(card)':>7} {'eval':>6}")
    shown = None
    for card in cards:
        try:
            m = measure(card, store.load(card.id), args.subset)
        except DlappError as exc:  # a model that does not load, data that is not here
            print(f"{card.id:<16} skipped: {exc}")
            continue
        y, cal, raw = m["y"], m["calibrated"], m["raw"]
        ece_cal, ece_raw = reliability(cal, y)[0], reliability(raw, y)[0]
        accepted = f"{m['accepted']:.1%}" if m["accepted"] is not None else "-"
        card_acc = f"{card.metrics.accepted:.1%}" if card.metrics.accepted is not None else "-"
        card_ece = f"{card.metrics.ece:.4f}" if card.metrics.ece is not None else "-"
        note = "" if card.calibration.fitted_on else "  (not calibrated: no held-out split)"
        print(f"{card.id:<16} {len(y):>6} {(cal.argmax(1) == y).mean():>6.1%} {card.calibration.temperature:>6.3f} "
              f"{raw.max(1).mean():>9.3f} {ece_raw:>8.4f} {cal.max(1).mean():>6.3f} {ece_cal:>7.4f} {card_ece:>9} "
              f"{accepted:>9} {card_acc:>7} {m['seconds']:>5.0f}s{note}", flush=True)
        if card.id == args.show:
            shown = (card, m)
    if args.show and shown is None:
        print(f"\n--show {args.show}: no such model measured in {args.model_dir}")
    elif shown:
        show(*shown)


if __name__ == "__main__":
    main()
