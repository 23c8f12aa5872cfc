"""Bring a model cached before calibration existed up to date, without retraining it:
re-export it with its preset's current test-time augmentation, fit its temperature and
"none of these" threshold on the validation split it was trained without, and re-measure
it on the test split. `python -m dlapp models recalibrate ID`; the shipped models' cards
record the command.
"""

from __future__ import annotations

import dataclasses

from ..card import ModelCard
from ..data import load_dataset
from ..errors import UsageError
from ..store import ModelStore, get_store
from ..tasks import get_task
from ..tasks.base import Classifier
from .calibrate import calibrate
from .config import TrainConfig, plan
from .evaluate import evaluate_model
from .pipeline import split_validation


def recalibrate(model_id: str, *, store: ModelStore | None = None) -> ModelCard:
    """Re-export, calibrate and re-evaluate a cached model in place (atomically).

    A model that validated on the test split (the seed tutorials do) has no held-out data to
    calibrate on: it keeps T = 1 rather than being fitted on the data it is measured on.

    Raises:
        UsageError: the model is not a classifier's.
        ModelNotFoundError, ModelLoadError: no usable model.
        DatasetNotFoundError: its training data is not here.
    """
    from .loop import cache_key, hyperparameters

    store = store or get_store()
    card = store.card(model_id)
    hp = card.hyperparameters
    if not isinstance(get_task(card.task), Classifier):  # a generator has no temperature, nor classes to re-measure
        raise UsageError(f"{model_id} is a {card.task} model; only classifiers are calibrated.")
    config = TrainConfig(dataset=card.dataset.name, task=card.task, preset=card.preset,
                         subset=card.dataset.subset_per_class,
                         epochs=hp.get("epochs"), batch_size=hp.get("batch_size"),
                         learning_rate=hp.get("learning_rate"), validation_split=hp.get("validation_split"),
                         seed=card.provenance.seed, command=card.provenance.command)
    the_plan = plan(config)
    size = card.input.picture_size
    data = load_dataset(config.dataset, subset=config.subset, image_size=size, seed=config.seed)
    task = the_plan.task
    model = task.export(store.load(model_id), the_plan.preset, store=store)
    # The split it was trained with (cards from before block splits existed drew at random).
    in_blocks = bool(hp.get("validation_in_blocks", False))
    _, _, x_val, y_val = split_validation(data, the_plan.validation_split, config.seed, in_blocks=in_blocks)
    model, calibration = calibrate(model, task, x_val, y_val, held_out=the_plan.validation_split > 0)
    metrics = evaluate_model(model, task.name, data.x_test, data.y_test, data.class_names,
                             none_threshold=calibration.none_threshold)
    metrics = dataclasses.replace(metrics, final_train_accuracy=card.metrics.final_train_accuracy,
                                  final_val_accuracy=card.metrics.final_val_accuracy)
    updated = dataclasses.replace(
        card, metrics=metrics, calibration=calibration,
        hyperparameters=hyperparameters(the_plan, in_blocks=in_blocks),
        provenance=dataclasses.replace(card.provenance, cache_key=cache_key(the_plan, data, card.provenance.precision,
                                                                           store=store)))
    return store.save(model, updated, model_id)
