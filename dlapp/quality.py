"""How good generated pictures are, judged by the project's own classifier.

No Inception network can be downloaded here, so the judge is a cached dlapp image classifier
trained on the same data (by default the shipped `cifar10-best`):
- **requested-class accuracy**: the share of generated pictures the judge files under the class
  they were generated for (chance: 1 / classes);
- **Fréchet distance** (Heusel et al. 2017's FID recipe) between Gaussians fitted to the judge's
  pooled last-stage features of generated and of real test pictures. Its scale is the judge's own,
  so it is only read beside its floor (real training pictures against the same test pictures) and
  its ceiling (uniform noise) measured with the same judge and sample sizes.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from .errors import ModelNotFoundError, UsageError
from .store import ModelStore, get_store


@dataclass(frozen=True)
class Judge:
    model_id: str
    classifier: object  # uint8 pictures -> probabilities
    features: object  # uint8 pictures -> pooled last-stage features
    class_names: tuple[str, ...]

    def probabilities(self, pictures: np.ndarray) -> np.ndarray:
        return np.asarray(self.classifier.predict(pictures, batch_size=500, verbose=0))

    def pooled(self, pictures: np.ndarray) -> np.ndarray:
        return np.asarray(self.features.predict(pictures, batch_size=500, verbose=0), dtype="float64")


def judge(model_id: str, class_names: tuple[str, ...], shape: tuple[int, ...], *,
          store: ModelStore | None = None) -> Judge:
    """The cached image classifier `model_id`, checked to know exactly these classes at this size.

    Raises:
        UsageError: it is missing, or knows other classes or reads other pictures.
    """
    store = store or get_store()
    try:
        card = store.card(model_id)
    except ModelNotFoundError:
        raise UsageError(f"Generated pictures are judged by the image model {model_id!r}, which is not in the "
                         "model cache. Train it first (python -m dlapp train --dataset cifar10 --preset best "
                         f"--name {model_id}).") from None
    if card.task != "image" or tuple(card.class_names) != tuple(class_names) or tuple(card.input.shape) != shape:
        raise UsageError(f"{model_id} does not classify these classes at {'×'.join(map(str, shape))}; "
                         "generated pictures need a judge trained on the same data.")
    return _judge(str(store.model_path(model_id)), card.sha256, model_id, tuple(class_names), store)


@functools.lru_cache(maxsize=2)
def _judge(path: str, sha256: str, model_id: str, class_names: tuple[str, ...], store: ModelStore) -> Judge:
    from .backend import keras
    from .explain.image import feature_stage_layers
    from .layers import trained_network

    model = store.load(model_id, fresh=True)
    classifier = trained_network(model) or model
    last = classifier.get_layer(feature_stage_layers(model)[-1]).output
    pooled = keras.layers.GlobalAveragePooling2D(name="judge_pooled")(last)
    return Judge(model_id, model, keras.Model(classifier.inputs[0], pooled, name=f"{model_id}_pooled"), class_names)


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """‖μa − μb‖² + tr(Σa + Σb − 2 (Σa Σb)^½) between Gaussians fitted to two feature sets (rows)."""
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    # tr((Σa Σb)^½) = Σ √λ over the eigenvalues of Σa^½ Σb Σa^½, which is symmetric: no complex square root.
    vals, vecs = np.linalg.eigh(cov_a)
    root_a = (vecs * np.sqrt(np.clip(vals, 0, None))) @ vecs.T
    cross = np.linalg.eigvalsh(root_a @ cov_b @ root_a)
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b)
                 - 2 * np.sqrt(np.clip(cross, 0, None)).sum())


def class_accuracy(judge_: Judge, pictures: np.ndarray, requested: np.ndarray) -> tuple[float, list[float]]:
    """(overall, per class) share of `pictures` the judge files under `requested`."""
    predicted = judge_.probabilities(pictures).argmax(1)
    hits = predicted == requested
    per_class = [float(hits[requested == c].mean()) if (requested == c).any() else float("nan")
                 for c in range(len(judge_.class_names))]
    return float(hits.mean()), per_class


def noise_pictures(n: int, shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    """Uniform noise pictures: the Fréchet distance's ceiling."""
    return np.random.default_rng(seed).integers(0, 256, size=(n, *shape), dtype=np.uint8)
