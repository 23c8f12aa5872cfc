"""`python -m dlapp`: train, evaluate, predict, models, hub, export, generate. Same engine as the web app.

Exit codes: 0 success, 2 usage error (argparse), 1 failure with a one-line reason.
"""

from __future__ import annotations

import argparse
import json
import logging
import shlex
import sys
from pathlib import Path

from . import settings
from .card import TASK_NAMES
from .errors import DlappError, UsageError


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _add_train(sub) -> None:
    t = sub.add_parser("train", help="train a model (or reuse an identical cached one)",
                       description="Train a model and save it to the model cache.")
    t.add_argument("--task", choices=TASK_NAMES, help="what to learn from the data (default: the data's own task; "
                   "cifar10 also serves generate, a class-conditional GAN)")
    t.add_argument("--dataset", required=True, help="cifar10, mnist, fashion_mnist, imdb, or a folder/.zip/.csv/.jsonl")
    t.add_argument("--preset", default="fast", help="seed, seed-*, fast, best or transfer (default: fast)")
    t.add_argument("--subset", type=int, help="use N examples per class, drawn at random (quick runs)")
    t.add_argument("--epochs", type=int)
    t.add_argument("--batch-size", type=int)
    t.add_argument("--learning-rate", type=float)
    t.add_argument("--validation-split", type=float, help="fraction of train held out; 0 = use the test split")
    _add_task_settings(t)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--name", help="model id to save under")
    t.add_argument("--force", action="store_true", help="train even if an identical model is cached")
    t.add_argument("--resume", action="store_true", help="continue from the last epoch checkpoint")
    t.add_argument("--set-default", action="store_true", help="make the new model its task's default")
    t.add_argument("--quiet", action="store_true", help="no progress bars")
    t.add_argument("--precision", choices=("auto", "float32", "mixed"), default="auto",
                   help="mixed: float16 compute on GPUs, bfloat16 on CPUs that have it (final softmax and the "
                   "saved model stay float32); auto (default): mixed on GPUs, float32 on the CPU")
    t.add_argument("--workers", metavar="HOST:PORT,HOST:PORT",
                   help="train together with other processes or machines (MultiWorkerMirroredStrategy); every "
                   "worker gets the same list, the first is the chief, which alone saves. Without it, a TF_CONFIG "
                   "in the environment is used. See docs/multi-machine.md")
    t.add_argument("--rank", type=int, help="with --workers: this process's index in the list (0 = the chief)")
    t.set_defaults(parser=t)  # usage errors found after parsing print this command's usage, not the top one's


def _add_task_settings(t) -> None:
    """A flag per task setting (--cell, --image-size, --backbone, --latent, ...), made from the tasks' own
    declarations (tasks.base.Setting), so a task's new setting needs no line here."""
    from .tasks import TASKS

    for task in TASKS.values():
        for name, setting in task.settings.items():
            t.add_argument("--" + name.replace("_", "-"), dest=f"option_{name}", type=setting.type,
                           choices=setting.choices or None, metavar=None if setting.choices else name.upper(),
                           help=setting.help)


def _task_options(args) -> dict:
    """The task settings given on the command line (None: not given)."""
    return {key.removeprefix("option_"): value for key, value in vars(args).items()
            if key.startswith("option_") and value is not None}


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m dlapp", description="Train, evaluate and use dlapp's Keras models.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    _add_train(sub)
    e = sub.add_parser("evaluate", help="measure a cached model on a test split",
                       description="Evaluate a cached model on the test split of its data set (or another).")
    e.add_argument("model", nargs="?", help="model id (default: the task's default)")
    e.add_argument("--task", choices=TASK_NAMES, default="image", help="task whose default to use")
    e.add_argument("--dataset", help="data set (default: the one the model was trained on)")
    e.add_argument("--subset", type=int, help="N test examples per class, drawn at random (seeded)")
    e.add_argument("--json", action="store_true", help="print the metrics as JSON")
    e.set_defaults(parser=e)

    pr = sub.add_parser("predict", help="classify images or judge reviews",
                        description="Classify image files, or judge the sentiment of reviews given with --text.")
    pr.add_argument("files", nargs="*", help="image files")
    pr.add_argument("--text", action="append", help="a review (repeatable)")
    pr.add_argument("--model", help="model id (default: the task's default)")
    pr.add_argument("--top", type=_positive, default=5, help="labels to show per image")
    pr.set_defaults(parser=pr)

    _add_explain(sub)
    m = sub.add_parser("models", help="list, show, delete or set the default model",
                       description="Manage your models (DLAPP_MODEL_DIR, by default ~/.cache/dlapp/models) "
                       "beside the shipped ones (read-only).")
    msub = m.add_subparsers(dest="action", required=True, metavar="ACTION")
    ml = msub.add_parser("list", help="list cached models")
    ml.add_argument("--task", choices=TASK_NAMES)
    for name, help_ in (("show", "print a model's card"), ("delete", "delete a model"),
                        ("set-default", "make a model its task's default"),
                        ("recalibrate", "re-fit a model's confidence calibration and re-measure it (needs its data)"),
                        ("examples", "keep the test examples of each confusion-matrix cell beside a model saved "
                                     "before they were kept (needs its data)")):
        msub.add_parser(name, help=help_, description=help_.capitalize() + ".").add_argument("model")

    h = sub.add_parser("hub", help="pull models from / push models to the Hugging Face Hub",
                       description="Exchange models with the Hugging Face Hub.")
    hsub = h.add_subparsers(dest="action", required=True, metavar="ACTION")
    hp = hsub.add_parser("pull", help="download a dlapp model repo into the cache")
    hp.add_argument("repo_id")
    hp.add_argument("--revision", help="branch, tag or commit to pin")
    hp.set_defaults(parser=hp)
    hu = hsub.add_parser("push", help="upload a cached model with a generated model card")
    hu.add_argument("model")
    hu.add_argument("repo_id")
    hu.add_argument("--private", action="store_true")
    hu.set_defaults(parser=hu)
    _add_export(sub)
    _add_generate(sub)
    return p


def _add_generate(sub) -> None:
    g = sub.add_parser("generate", help="draw pictures of a class with a generator model (a GAN)",
                       description="Draw pictures of one class with a cached generator (e.g. cifar10-gan) into a "
                       "folder, one PNG each and a grid, and print what the default image model sees in each.")
    g.add_argument("--model", help="generator model id (default: the default generate model)")
    g.add_argument("--class", dest="class_name", required=True, help="the class to draw (a name, or its index)")
    g.add_argument("--n", type=int, default=16, help="pictures to draw (default: 16)")
    g.add_argument("--seed", type=int, default=0, help="the first picture's seed (default: 0); the same seed "
                   "draws the same picture")
    g.add_argument("--interpolate", type=int, metavar="SEED_B", help="instead: walk from --seed to this seed")
    g.add_argument("--to-class", help="walk from --class to this class (for the same seed, unless --interpolate)")
    g.add_argument("--steps", type=int, default=8, help="pictures along a walk (default: 8)")
    g.add_argument("--out", type=Path, required=True, help="the folder to write the PNGs into (made if missing)")
    g.add_argument("--scale", type=int, default=1, help="enlarge the PNGs this many times (default: 1, the "
                   "generator's own size)")
    g.add_argument("--resample", choices=("nearest", "bicubic"), default="nearest", help="how to enlarge")
    g.add_argument("--classifier", help="the image model that says what it sees (default: the default image model)")
    g.add_argument("--json", action="store_true", help="print the answers as JSON (without the pictures)")
    g.set_defaults(parser=g)


def _generate(args) -> int:
    from . import generating

    walk = args.interpolate is not None or args.to_class is not None
    if walk:
        drawn = generating.interpolate(args.model, seed_a=args.seed, class_a=args.class_name,
                                       seed_b=args.seed if args.interpolate is None else args.interpolate,
                                       class_b=args.to_class, steps=args.steps, classifier=args.classifier)
    else:
        drawn = generating.generate(args.model, args.class_name, seed=args.seed, n=args.n,
                                    classifier=args.classifier)
    stem = f"{drawn.model_id}-{'walk' if walk else drawn.requested[0]}-seed{args.seed}"
    files, grid = generating.save_pngs(drawn, args.out, stem=stem, scale=args.scale, method=args.resample,
                                       columns=len(drawn.pictures) if walk else 8)
    if args.json:
        answers = drawn.as_dict()
        for picture, path in zip(answers["pictures"], files, strict=True):
            del picture["png_base64"]
            picture["file"] = str(path)
        print(json.dumps({**answers, "grid": str(grid)}, indent=2))
        return 0
    h, w = drawn.side
    print(f"{drawn.model_id}: {len(files)} pictures, {h}×{w} px"
          + (f" (saved {args.scale}× larger, {args.resample})" if args.scale > 1 else "") + f", in {args.out}")
    for path, caption in zip(files, drawn.captions(), strict=True):
        print(f"  {path.name}: {caption}")
    print(f"  {grid.name}: all of them")
    print(drawn.agreement())
    return 0


def _add_export(sub) -> None:
    from .export import FORMATS

    x = sub.add_parser("export", help="export a model for a phone, a browser or another runtime, checked first",
                       description="Export a cached model as a .zip (model, example script, README with the "
                       "check's figures) after checking it in a fresh process against the Keras model.")
    x.add_argument("model", help="model id (python -m dlapp models list)")
    x.add_argument("--format", required=True, choices=FORMATS)
    x.add_argument("--out", type=Path, help="the .zip to write, or a folder (default: .exports/ in your model folder)")
    x.add_argument("--examples", type=_positive, help="held-out examples to check on (default: 1000; int8: the "
                   "whole test split)")
    x.set_defaults(parser=x)


def _export(args) -> int:
    from .export import export_model

    print(export_model(args.model, args.format, args.out, examples=args.examples).summary())
    return 0


# ---------------------------------------------------------------- commands

def _train_config(args):
    """The TrainConfig the arguments describe, checked as far as it can be without loading data.

    Raises:
        UsageError: an unknown data set or preset, a value out of range, a task that is not the data's.
    """
    from .training import TrainConfig, plan

    config = TrainConfig(dataset=args.dataset, task=args.task, preset=args.preset, subset=args.subset,
                         epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.learning_rate,
                         validation_split=args.validation_split, options=_task_options(args), seed=args.seed,
                         name=args.name,
                         command="python -m dlapp " + shlex.join(args.argv))
    plan(config)
    if args.rank is not None and not args.workers:
        raise UsageError("--rank needs --workers (or set TF_CONFIG instead of both).")
    if args.workers:
        from .devices import tf_config

        if args.rank is None:
            raise UsageError("--workers needs --rank: this process's index in the list (0 = the chief).")
        args.tf_config = tf_config(args.workers, args.rank)
    return config


def _check_images(dataset: str) -> None:
    """The Train tab's data check, for a .zip or folder of class folders: warnings on stderr,
    and the problems that block a training as the error (the same words the web app shows).

    Raises:
        InvalidDatasetError: a problem that training cannot get past.
    """
    import tempfile

    from .data.checks import check_image_folder, check_image_zip
    from .errors import InvalidDatasetError

    path = Path(dataset)
    if path.is_dir():
        problems = check_image_folder(path)
    elif path.suffix.lower() == ".zip" and path.is_file():
        with tempfile.TemporaryDirectory(prefix="dlapp-check-") as tmp:
            problems = check_image_zip(path, Path(tmp) / "x")
    else:
        return
    for p in problems:
        if not p.blocking:
            print(f"warning: {p.message}", file=sys.stderr)
    if blocking := [p.message for p in problems if p.blocking]:
        raise InvalidDatasetError(" ".join(blocking))


def _train(args) -> int:
    import os
    import shutil
    import tempfile

    from .data import dataset_task
    from .devices import placement
    from .store import ModelStore, get_store
    from .training import TrainingEvent, train

    config = args.config  # built and checked by _usage_errors

    def show(event: TrainingEvent) -> None:
        if event.kind in ("start", "evaluating", "done") and event.message and (event.kind != "done" or not chief):
            print(event.message, flush=True)

    if dataset_task(args.dataset) == "image":
        _check_images(args.dataset)
    if getattr(args, "tf_config", None):
        os.environ["TF_CONFIG"] = args.tf_config  # read by TensorFlow, and by settings for dlapp's own view
    # Chosen once, before any other TensorFlow op: MultiWorkerMirroredStrategy sets up the collectives.
    where = placement(args.precision)
    chief = where.is_chief
    # A worker that is not the chief writes nothing to the model cache: anything on its side (the budget's
    # run folder) goes to a temporary folder, removed at the end.
    scratch = None if chief else Path(tempfile.mkdtemp(prefix=f"dlapp-worker{where.rank}-"))
    try:
        result = train(config, on_event=show, force=args.force, resume=args.resume, verbose=0 if args.quiet else 1,
                       where=where, store=ModelStore(scratch) if scratch else None)
    finally:
        if scratch:
            shutil.rmtree(scratch, ignore_errors=True)
    if not chief:
        return 0
    card = result.card
    if result.cached:
        print(f"Identical model already cached (use --force to retrain): {result.model_id}")
    if args.set_default:
        get_store().set_default(card.task, result.model_id)
    print(f"{result.model_id}: {card.headline.name} {card.headline} on {card.metrics.test_examples:,} examples, "
          f"trained in {card.provenance.training_time_s:.0f} s on {card.provenance.device}")
    return 0


def _evaluate(args) -> int:
    from .store import get_store
    from .training import evaluate_cached

    if not args.model:  # say which one, before the (slow) evaluation; on stderr, so --json stays JSON
        args.model = get_store().default_id(args.task)
        print(f"No model given: evaluating the default {args.task} model, {args.model}.", file=sys.stderr,
              flush=True)
    result = evaluate_cached(args.model, task=args.task, dataset=args.dataset, subset=args.subset)
    m, headline = result.metrics, result.metrics.main
    if args.json:  # test_accuracy: None for a task that does not classify; its figures are in headline and report
        print(json.dumps({"model": result.model_id, "dataset": result.dataset, "headline": headline.as_json(),
                          "test_accuracy": m.test_accuracy, "test_examples": m.test_examples,
                          "per_class_accuracy": m.per_class_accuracy, "confusion_matrix": m.confusion_matrix,
                          "report": m.report}, indent=2))
        return 0
    print(f"{result.model_id} on {result.dataset} test split ({m.test_examples:,} examples): "
          f"{headline.name} {headline} (card: {result.card.headline})")
    for name, acc in m.per_class_accuracy.items():
        print(f"  {name:>14}: {acc:.2%}" if acc is not None else f"  {name:>14}: n/a")
    for name, value in m.figures():
        print(f"  {name}: {value}")
    return 0


def _predict(args) -> int:
    from .inference import get_predictor

    if args.text:
        from .tasks.text import NO_VERDICT

        predictor = get_predictor("text", args.model)
        for text, (label, p), known in zip(args.text, predictor.sentiment_batch(args.text),
                                           predictor.known_words(args.text), strict=True):
            print(f"{label} ({p:.1%}): {text[:60]}" if known else f"{NO_VERDICT} (it knows none of its words): "
                  f"{text[:60]}")
        return 0
    clf = get_predictor("image", args.model)
    failed, noted = 0, False
    for f in args.files:
        try:
            top = clf.classify(Path(f), k=args.top)
        except DlappError as exc:
            print(f"{f}: error: {exc}", file=sys.stderr)
            failed += 1
            continue
        ranked = ", ".join(f"{label} {p:.1%}" for label, p in top)
        answer = clf.top_label(top)
        print(f"{f}: {ranked}" if answer == top[0][0] else f"{f}: {answer} (closest: {ranked})")
        if note := clf.note(top):
            print(f"  {note}")
            noted = True
    if noted:  # once, after the answers: how to make the model know yours
        print(TEACH_HINT)
    return 1 if failed else 0


TEACH_HINT = ("To teach a model your own classes: python -m dlapp train --dataset <folder or .zip of class folders> "
              "--preset transfer")


def _add_explain(sub) -> None:
    ex = sub.add_parser("explain", help="why a model answers as it does (Grad-CAM, word attributions)",
                        description="Explain one image (Grad-CAM overlay saved as a PNG) or one review "
                                    "(each word's push towards the verdict).")
    ex.add_argument("image", nargs="?", help="an image file")
    ex.add_argument("--text", help="a review, instead of an image")
    ex.add_argument("--model", help="model id (default: the task's default)")
    ex.add_argument("--class", dest="class_name", help="image: the class to explain (default: the top one)")
    ex.add_argument("--out", type=Path, help="image: where to save the overlay (default: <image>-gradcam.png)")
    ex.add_argument("--words", type=_positive, default=10, help="text: strongest words to list")
    ex.add_argument("--json", action="store_true", help="print the explanation as JSON")
    ex.set_defaults(parser=ex)


def _print_attention(attention: dict, words: int) -> None:
    """The attention view of `dlapp explain --text` (explain/attention.py's attention_dict)."""
    def agreement(rho: float | None) -> str:
        return "n/a (too few words)" if rho is None else f"{rho:+.2f}"

    print("where the model pooled (attention weight; share of the pooled vector):")
    for word, weight in sorted(attention["pooled"], key=lambda t: -t[1])[:words]:
        print(f"  {weight:8.1%}  {word}")
    print(f"agreement with removing each word (Spearman, 1 = same order, 0 = unrelated): "
          f"{agreement(attention['agreement'])}"
          + (f"; rollout through the blocks: {agreement(attention['agreement_rollout'])}"
             if attention["rollout"] is not None else ""))
    print(attention["caution"])


def _explain(args) -> int:
    from .inference import get_predictor

    if args.text is not None:
        from .explain.attention import attention_dict
        from .explain.text import explain_review

        predictor = get_predictor("text", args.model)
        ex = explain_review(predictor.model, args.text, class_names=tuple(predictor.class_names))
        attention = attention_dict(predictor.model, args.text) if ex.known else None  # None: not an attention model
        if args.json:
            print(json.dumps({"label": ex.label, "probability": ex.probability, "tokens": ex.tokens,
                              "read": ex.read, "total": ex.total, "unread": len(ex.unread), "attention": attention}))
            return 0
        print(f"{ex.label} ({ex.probability:.1%}); read {ex.read:,} of {ex.total:,} words"
              + (f" (the last {len(ex.unread):,} did not count)" if ex.unread else ""))
        print(f"words that pushed most towards {ex.label} (+) or away from it (-):")
        for word, score in sorted(ex.tokens, key=lambda t: -abs(t[1]))[:args.words]:
            print(f"  {score:+8.3f}  {word}")
        if attention:
            _print_attention(attention, args.words)
        return 0
    from PIL import Image

    from .explain.image import grad_cam, overlay

    predictor = get_predictor("image", args.model)
    seen = predictor.preprocess(Path(args.image))
    top = predictor.classify(seen, k=5)
    name = args.class_name or top[0][0]
    if name not in predictor.class_names:
        raise UsageError(f"{name!r} is not one of the model's classes: {', '.join(predictor.class_names)}.")
    heat = grad_cam(predictor.model, seen, predictor.class_names.index(name))
    out = args.out or Path(args.image).with_name(Path(args.image).stem + "-gradcam.png")
    Image.fromarray(overlay(seen, heat)).save(out)
    if args.json:
        print(json.dumps({"label": predictor.top_label(top), "top": top, "class": name, "overlay": str(out),
                          "heat_map": heat.round(3).tolist()}))
        return 0
    print(f"{args.image}: {predictor.top_label(top)} ({', '.join(f'{n} {p:.1%}' for n, p in top)})")
    print(f"evidence for {name}: {out} ({heat.shape[0]}×{heat.shape[1]} LayerCAM map, a Grad-CAM variant)")
    return 0


def _models(args) -> int:
    from .store import get_store

    store = get_store()
    if args.action == "list":
        cards = store.list(args.task)
        defaults = set(store.defaults().values())
        shipped = store.shipped_root
        if shipped is not None and not shipped.is_dir():
            print(f"The shipped models are not at {shipped}: they are the models/ folder of dlapp's source; "
                  "set DLAPP_SHIPPED_MODEL_DIR to a copy of it, or pull models with `python -m dlapp hub pull`.")
        if not cards:
            print(f"No models in {store.root}.")
            return 0
        print(f"  {'id':<44} {'task':<8} {'data':<22} {'preset':<14} {'headline':>8} {'of':<24} {'size':>9}  "
              "created     from")
        for c in cards:
            print(f"{'*' if c.id in defaults else ' '} {c.id:<44} {c.task:<8} {c.dataset.label:<22} {c.preset:<14} "
                  f"{c.headline!s:>8} {c.headline.name:<24} {c.size_bytes / 2**20:6.1f} MB  "
                  f"{c.provenance.created[:10]:<10}  {'shipped' if c.shipped else 'yours'}")
        where = f"shipped = read-only, in {shipped}; " if shipped is not None else ""
        print(f"(* = its task's default; {where}yours = in {store.root})")
        return 0
    if args.action == "show":  # the card, with its headline (name, value, text) first
        card = store.card(args.model)
        print(json.dumps({"headline": card.headline.as_json(), **card.to_json()}, indent=2))
    elif args.action == "delete":
        print(store.delete(args.model))
    elif args.action == "recalibrate":
        from .training.recalibrate import recalibrate

        card = recalibrate(args.model, store=store)
        m = card.metrics
        print(f"{args.model}: temperature {card.calibration.temperature:g} (fitted on "
              f"{card.calibration.fitted_on:,} held-out examples); test accuracy {m.test_accuracy:.2%}, "
              f"calibration error {m.ece:.2%}" + (f", accepts {m.accepted:.1%} of test images"
                                                   if m.accepted is not None else ""))
    elif args.action == "examples":
        from .explain.examples import backfill

        path = backfill(store.card(args.model), store.root)
        print(f"{args.model}: cell examples kept in {path.name} ({path.stat().st_size / 2**10:,.0f} KB).")
    elif args.action == "set-default":
        card = store.card(args.model)
        store.set_default(card.task, args.model)
        print(f"{args.model} is now the default {card.task} model.")
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


COMMANDS = {"train": _train, "evaluate": _evaluate, "predict": _predict, "explain": _explain, "models": _models,
            "hub": _hub, "export": _export, "generate": _generate}


def _usage_errors(args) -> None:
    """What argparse cannot see: arguments that parse but ask for something unknown or out of range.

    Raises:
        UsageError: the message for the command's usage line.
    """
    if args.command == "predict" and bool(args.files) == bool(args.text):
        raise UsageError("give image files, or --text \"a review\", but not both")
    if args.command == "explain" and bool(args.image) == (args.text is not None):
        raise UsageError("give one image file, or --text \"a review\", but not both")
    if args.command == "train":
        args.config = _train_config(args)
    if args.command == "hub":
        from .hub import check_repo_id

        check_repo_id(args.repo_id)
    if args.command == "export":
        from .export import check_request

        check_request(args.model, args.format, args.out)
    if args.command == "generate":
        from . import generating, limits

        generating.whole("--seed", args.seed, 0, limits.MAX_SEED)
        generating.whole("--n", args.n, 1, limits.MAX_GENERATE)
        generating.whole("--steps", args.steps, 2, limits.MAX_INTERPOLATION_STEPS)
        generating.whole("--scale", args.scale, *generating.UPSCALE_RANGE)
        if args.interpolate is not None:
            generating.whole("--interpolate", args.interpolate, 0, limits.MAX_SEED)
        if args.out.exists() and not args.out.is_dir():
            raise UsageError(f"--out {args.out} is a file; name a folder to write the pictures into.")


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    args.argv = argv  # recorded in the card as the command that reproduces a training
    try:
        _usage_errors(args)
    except UsageError as exc:
        getattr(args, "parser", parser).error(str(exc))  # the command's usage and the reason; exits 2
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    try:
        return COMMANDS[args.command](args)
    except KeyboardInterrupt:
        print("Interrupted; nothing was saved. Use --resume to continue a training.", file=sys.stderr)
        return 1
    except DlappError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # a bug or an environment problem: one line, unless debugging
        if settings.DEBUG:
            raise
        print(f"error: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''} "
              "(set DLAPP_DEBUG=1 for a traceback)", file=sys.stderr)
        return 1
