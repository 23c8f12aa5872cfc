"""`python -m dlapp`: train, evaluate, predict, models, hub. Same engine as the web app.

Exit codes: 0 success, 2 usage error (argparse), 1 failure with a one-line reason.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shlex
import sys
import threading
from pathlib import Path

from .errors import DlappError


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m dlapp", description="Train, evaluate and use dlapp's Keras models.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    t = sub.add_parser("train", help="train a model (or reuse an identical cached one)",
                       description="Train a model and save it to the model cache.")
    t.add_argument("--task", choices=("image", "text"), help="checked against the data (inferred when omitted)")
    t.add_argument("--dataset", required=True, help="cifar10, mnist, fashion_mnist, imdb, or a folder/.zip/.csv/.jsonl")
    t.add_argument("--preset", default="fast", help="seed, seed-*, fast or best (default: fast)")
    t.add_argument("--subset", type=int, help="use the first N examples per class (quick runs)")
    t.add_argument("--epochs", type=int)
    t.add_argument("--batch-size", type=int)
    t.add_argument("--learning-rate", type=float)
    t.add_argument("--validation-split", type=float, help="fraction of train held out; 0 = use the test split")
    t.add_argument("--cell", choices=("lstm", "gru", "simplernn"), help="recurrent cell for text models")
    t.add_argument("--image-size", type=int, help="side in px for custom image folders")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--name", help="model id to save under")
    t.add_argument("--force", action="store_true", help="train even if an identical model is cached")
    t.add_argument("--resume", action="store_true", help="continue from the last epoch checkpoint")
    t.add_argument("--set-default", action="store_true", help="make the new model its task's default")
    t.add_argument("--quiet", action="store_true", help="no progress bars")

    e = sub.add_parser("evaluate", help="measure a cached model on a test split",
                       description="Evaluate a cached model on the test split of its data set (or another).")
    e.add_argument("model", nargs="?", help="model id (default: the task's default)")
    e.add_argument("--task", choices=("image", "text"), default="image", help="task whose default to use")
    e.add_argument("--dataset", help="data set (default: the one the model was trained on)")
    e.add_argument("--subset", type=int, help="first N test examples per class")
    e.add_argument("--json", action="store_true", help="print the metrics as JSON")

    pr = sub.add_parser("predict", help="classify images or judge reviews",
                        description="Classify image files, or judge the sentiment of reviews given with --text.")
    pr.add_argument("files", nargs="*", help="image files")
    pr.add_argument("--text", action="append", help="a review (repeatable)")
    pr.add_argument("--model", help="model id (default: the task's default)")
    pr.add_argument("--top", type=int, default=5, help="labels to show per image")

    m = sub.add_parser("models", help="list, show, delete or set the default model",
                       description="Manage the model cache (DLAPP_MODEL_DIR).")
    msub = m.add_subparsers(dest="action", required=True, metavar="ACTION")
    ml = msub.add_parser("list", help="list cached models")
    ml.add_argument("--task", choices=("image", "text"))
    for name, help_ in (("show", "print a model's card"), ("delete", "delete a model"),
                        ("set-default", "make a model its task's default")):
        msub.add_parser(name, help=help_, description=help_.capitalize() + ".").add_argument("model")

    h = sub.add_parser("hub", help="pull models from / push models to the Hugging Face Hub",
                       description="Exchange models with the Hugging Face Hub.")
    hsub = h.add_subparsers(dest="action", required=True, metavar="ACTION")
    hp = hsub.add_parser("pull", help="download a dlapp model repo into the cache")
    hp.add_argument("repo_id")
    hp.add_argument("--revision", help="branch, tag or commit to pin")
    hu = hsub.add_parser("push", help="upload a cached model with a generated model card")
    hu.add_argument("model")
    hu.add_argument("repo_id")
    hu.add_argument("--private", action="store_true")
    return p


# ---------------------------------------------------------------- commands

def _train(args) -> int:
    from .store import get_store
    from .training import TrainConfig, TrainingEvent, train

    config = TrainConfig(dataset=args.dataset, preset=args.preset, subset=args.subset, epochs=args.epochs,
                         batch_size=args.batch_size, learning_rate=args.learning_rate,
                         validation_split=args.validation_split, cell=args.cell, image_size=args.image_size,
                         seed=args.seed, name=args.name,
                         command="python -m dlapp " + shlex.join(sys.argv[1:]))

    def show(event: TrainingEvent) -> None:
        if event.kind in ("start", "evaluating") and event.message:
            print(event.message, flush=True)

    from .datasets import dataset_task

    if args.task and args.task != dataset_task(args.dataset):
        raise DlappError(f"{args.dataset} is {dataset_task(args.dataset)} data, not {args.task} data.")
    cancel = threading.Event()
    result = train(config, on_event=show, cancel=cancel, force=args.force, resume=args.resume,
                   verbose=0 if args.quiet else 1)
    card = result.card
    if result.cached:
        print(f"Identical model already cached (use --force to retrain): {result.model_id}")
    if args.set_default:
        get_store().set_default(card["task"], result.model_id)
    print(f"{result.model_id}: test accuracy {card['metrics']['test_accuracy']:.2%} "
          f"on {card['dataset']['test_examples']:,} examples, trained in {card['training_time_s']:.0f} s on {card['device']}")
    return 0


def _evaluate(args) -> int:
    from .datasets import load_dataset
    from .evaluation import evaluate_model
    from .store import get_store

    store = get_store()
    model_id = args.model or store.default_id(args.task)
    card = store.card(model_id)
    dataset = args.dataset or card["dataset"]["name"].split("[")[0]
    size = tuple(card["input"]["shape"][:2]) if card["task"] == "image" else None
    data = load_dataset(dataset, image_size=size, subset=args.subset)  # --subset trims the test split too
    if list(data.class_names) != card["class_names"]:
        raise DlappError(f"{dataset}'s classes differ from the model's; evaluate it on matching data.")
    metrics = evaluate_model(store.load(model_id), data.x_test, data.y_test, data.class_names)
    metrics.pop("misclassified")
    if args.json:
        print(json.dumps({"model": model_id, "dataset": dataset, **metrics}, indent=2))
        return 0
    print(f"{model_id} on {dataset} test split ({metrics['test_examples']:,} examples): "
          f"accuracy {metrics['test_accuracy']:.2%} (card: {card['metrics']['test_accuracy']:.2%})")
    for name, acc in metrics["per_class_accuracy"].items():
        print(f"  {name:>14}: {acc:.2%}" if acc is not None else f"  {name:>14}: n/a")
    return 0


def _predict(args) -> int:
    from .inference import get_predictor

    if bool(args.files) == bool(args.text):
        raise DlappError("Give image files, or --text \"a review\", but not both.")
    if args.text:
        for text, (label, p) in zip(args.text, get_predictor("text", args.model).sentiment_batch(args.text)):
            print(f"{label} ({p:.1%}): {text[:60]}")
        return 0
    clf = get_predictor("image", args.model)
    failed = 0
    for f in args.files:
        try:
            top = clf.classify(Path(f), k=args.top)
        except DlappError as exc:
            print(f"{f}: error: {exc}", file=sys.stderr)
            failed += 1
            continue
        print(f"{f}: " + ", ".join(f"{label} {p:.1%}" for label, p in top))
    return 1 if failed else 0


def _models(args) -> int:
    from .store import get_store

    store = get_store()
    if args.action == "list":
        cards = store.list(args.task)
        defaults = {store.defaults().get(t) for t in ("image", "text")}
        if not cards:
            print(f"No models in {store.root}.")
        for c in cards:
            mark = "*" if c["id"] in defaults else " "
            acc = c.get("metrics", {}).get("test_accuracy")
            print(f"{mark} {c['id']:<44} {c['task']:<5} {c['dataset']['name']:<22} {c['preset']:<14} "
                  f"{acc:7.2%}  {c['size_bytes'] / 2**20:6.1f} MB  {c.get('created', '')[:10]}")
        return 0
    if args.action == "show":
        print(json.dumps(store.card(args.model), indent=2))
    elif args.action == "delete":
        store.delete(args.model)
        print(f"Deleted {args.model}.")
    elif args.action == "set-default":
        card = store.card(args.model)
        store.set_default(card["task"], args.model)
        print(f"{args.model} is now the default {card['task']} model.")
    return 0


def _hub(args) -> int:
    from . import hub

    if args.action == "pull":
        model_id = hub.pull(args.repo_id, revision=args.revision)
        print(f"Pulled {args.repo_id} as {model_id}.")
    else:
        url = hub.push(args.model, args.repo_id, private=args.private)
        print(f"Pushed {args.model} to {url}")
    return 0


COMMANDS = {"train": _train, "evaluate": _evaluate, "predict": _predict, "models": _models, "hub": _hub}


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    try:
        import dlapp  # noqa: F401  registers custom layers before any model loads

        return COMMANDS[args.command](args)
    except KeyboardInterrupt:
        print("Interrupted; nothing was saved. Use --resume to continue a training.", file=sys.stderr)
        return 1
    except DlappError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # a bug or an environment problem: one line, unless debugging
        if os.environ.get("DLAPP_DEBUG"):
            raise
        print(f"error: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''} "
              "(set DLAPP_DEBUG=1 for a traceback)", file=sys.stderr)
        return 1
