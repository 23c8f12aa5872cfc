"""Hugging Face Hub: pull dlapp models into the cache, push cached models with a model card.

A dlapp model repo holds `model.keras`, `dlapp.json` (the dlapp card) and a
generated `README.md`. Downloads go through huggingface_hub's own cache, so
HF_HUB_OFFLINE=1 serves what was pulled before. Tokens are passed straight to
huggingface_hub and never logged, echoed or written by dlapp.
"""

from __future__ import annotations

import json
import logging
import re
import tempfile
from dataclasses import replace
from pathlib import Path

from . import limits
from .card import HubOrigin, ModelCard
from .errors import HubError, UsageError
from .store import ModelStore, get_store
from .tasks import get_task

log = logging.getLogger(__name__)
MODEL_FILE, CARD_FILE = "model.keras", "dlapp.json"


def hub_model_id(repo_id: str) -> str:
    """The cache id a Hub repo gets: hf--owner--name, lowercased."""
    return "hf--" + re.sub(r"[^a-z0-9_.-]+", "-", repo_id.lower().replace("/", "--")).strip("-")[:90]


def check_repo_id(repo_id: str) -> str:
    """`repo_id` if the Hub accepts it as a repo id.

    Raises:
        UsageError: it is not of the form owner/name (huggingface_hub's own rule decides).
    """
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    try:
        validate_repo_id(repo_id)
    except HFValidationError:
        raise UsageError(f"{repo_id!r} is not a valid Hub repo id: use owner/name, like your-name/dlapp-cifar10 "
                         "(letters, digits, '-', '_' and '.', at most 96 characters each side).") from None
    return repo_id


def _reachable(repo_id: str, revision: str | None) -> bool:
    """Whether the Hub answers at all, asked once and without retries.

    huggingface_hub retries a failed download with back-off (about 23 s and a warning per try)
    before falling back to its cache; when nothing answers, one quick question is enough.
    """
    from huggingface_hub import constants, get_hf_file_metadata, hf_hub_url
    from huggingface_hub.errors import HfHubHTTPError

    if constants.HF_HUB_OFFLINE:
        return False
    try:
        get_hf_file_metadata(hf_hub_url(repo_id, CARD_FILE, revision=revision), timeout=limits.HUB_PROBE_TIMEOUT_S)
    except HfHubHTTPError:
        return True  # it answered (no such repo, private, ...): the download below says which
    except Exception as exc:  # refused, no DNS, timed out, TLS: nothing answers
        log.info("the Hub cannot be reached: %s", type(exc).__name__)
        return False
    return True


def _scrub(text: str, token: str | None) -> str:
    return text.replace(token, "***") if token else text


def pull(repo_id: str, *, revision: str | None = None, store: ModelStore | None = None) -> str:
    """Download a dlapp model repo (or use the local HF cache) into the model cache.

    Returns:
        The model id in the cache.
    Raises:
        UsageError: `repo_id` is not a valid repo id.
        HubError: not cached while offline, unreachable Hub, missing repo, or not a dlapp repo.
    """
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError, LocalEntryNotFoundError, RepositoryNotFoundError

    store = store or get_store()
    check_repo_id(repo_id)
    local = not _reachable(repo_id, revision)  # then only what was pulled before, from the HF cache
    try:
        card_path = hf_hub_download(repo_id, CARD_FILE, revision=revision, local_files_only=local)
        model_path = hf_hub_download(repo_id, MODEL_FILE, revision=revision, local_files_only=local)
    except LocalEntryNotFoundError:
        raise HubError(f"{repo_id} is not in the local Hugging Face cache and the Hub cannot be reached "
                       "(offline, or HF_HUB_OFFLINE=1). Pull it once while online.") from None
    except RepositoryNotFoundError:
        raise HubError(f"No Hub repo {repo_id!r} (or it is private: set HF_TOKEN).") from None
    except EntryNotFoundError:
        raise HubError(f"{repo_id} is not a dlapp model repo: it lacks {MODEL_FILE} and {CARD_FILE}.") from None
    except (OSError, ValueError) as exc:
        raise HubError(f"Could not download {repo_id}: {type(exc).__name__}.") from None
    try:
        card = ModelCard.from_json(json.loads(Path(card_path).read_text()))
    except ValueError as exc:  # not JSON, or not a dlapp card
        raise HubError(f"{repo_id}: {CARD_FILE} is not a dlapp card ({exc}).") from None
    commit = Path(model_path).parent.name  # snapshots/<commit>/model.keras
    origin = HubOrigin(repo_id=repo_id, revision=revision or "main", commit=commit)
    card = replace(card, provenance=replace(card.provenance, hub=origin))
    model_id = hub_model_id(repo_id)
    store.import_file(Path(model_path), card, model_id)
    return model_id


def pull_configured(repo_ids, *, store: ModelStore | None = None) -> list[str]:
    """Pull each repo in DLAPP_HUB_MODELS; failures are logged and skipped so the app still starts."""
    pulled = []
    for repo_id in repo_ids:
        try:
            pulled.append(pull(repo_id, store=store))
        except HubError as exc:
            log.warning("skipping Hub model %s: %s", repo_id, exc)
    return pulled


def model_card(card: ModelCard, repo_id: str) -> str:
    """A Hub README for a dlapp model: metadata, data, metrics, confusion matrix, use and limits."""
    task, m, names, headline = get_task(card.task), card.metrics, card.class_names, card.headline
    classifier = m.test_accuracy is not None
    lines = [
        "---", "library_name: keras", f"pipeline_tag: {task.hub_pipeline}",
        "tags:", "- dlapp", "- keras", f"- {task.hub_pipeline}",
        f"datasets:\n- {card.dataset.name}", *(["metrics:", "- accuracy"] if classifier else []), "---", "",
        f"# {repo_id}", "",
        f"A Keras {task.noun_for(card)} trained with dlapp (preset `{card.preset}`). "
        f"Its headline: {headline.name} {headline}.", "",
        "## Data", "",
        f"- Data set: `{card.dataset.label}` ({card.dataset.train_examples} training examples, "
        f"{card.dataset.test_examples} test examples)",
        f"- Classes: {', '.join(names)}",
        f"- Input: {card.input.dtype} "
        f"{'tensor of shape ' + str(list(card.input.shape)) if card.input.shape else 'scalar'} per example",
        "", "## Metrics (test split)", "", "| metric | value |", "|---|---|",
        f"| {headline.name} | {headline.value:.4f} |",
        *(f"| {name} | {value} |" for name, value in m.figures()),
    ]
    lines += [f"| accuracy: {name} | {acc:.4f} |" if acc is not None else f"| accuracy: {name} | n/a |"
              for name, acc in m.per_class_accuracy.items()]
    if m.confusion_matrix:
        lines += ["", "### Confusion matrix (rows: true, columns: predicted)", "",
                  "| | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
        lines += [f"| **{names[i]}** | " + " | ".join(str(v) for v in row) + " |"
                  for i, row in enumerate(m.confusion_matrix)]
    p = card.provenance
    lines += [
        "", "## Training", "",
        f"- Command: `{p.command or 'dlapp web app'}`",
        f"- Time: {p.training_time_s} s on {p.device or '?'}; seed {p.seed}",
        f"- Versions: {json.dumps(p.versions)}",
        "", "## Intended use and limits", "",
        "A teaching and demo model. " + ("It only knows the classes above and will confidently pick one of them for "
                                         "any input, including inputs unlike its training data. " if classifier else
                                         f"The figures above are measured by the project's own classifier "
                                         f"({m.report.get('judge', 'its judge')}), not an Inception network. ")
        + "Do not use it for decisions about people.",
        "", "## Use", "", "```python", "import dlapp.layers, keras  # dlapp.layers registers the custom layers",
        "from huggingface_hub import hf_hub_download",
        f'model = keras.saving.load_model(hf_hub_download("{repo_id}", "{MODEL_FILE}"), safe_mode=True)',
        "```", "",
    ]
    return "\n".join(lines)


def stage(model_id: str, repo_id: str, folder: Path, *, store: ModelStore | None = None) -> Path:
    """Write exactly what `push` uploads into `folder`: model.keras (the cached bytes), dlapp.json, README.md."""
    store = store or get_store()
    card = store.card(model_id)
    (folder / MODEL_FILE).write_bytes(store.model_path(model_id).read_bytes())  # bit-identical
    (folder / CARD_FILE).write_text(json.dumps(card.to_json(), indent=2))
    (folder / "README.md").write_text(model_card(card, repo_id))
    return folder


def push(model_id: str, repo_id: str, *, token: str | None = None, private: bool = False,
         store: ModelStore | None = None) -> str:
    """Upload a cached model, its dlapp card and a generated README to a Hub model repo.

    Returns:
        The repo URL.
    Raises:
        UsageError: `repo_id` is not a valid repo id.
        HubError: no token, a repo that isn't yours, or no network.
    """
    from huggingface_hub import HfApi, get_token
    from huggingface_hub.errors import HfHubHTTPError

    store = store or get_store()
    store.card(model_id)  # fail early on an unknown id
    check_repo_id(repo_id)
    token = token or get_token()  # HF_TOKEN, or the token `hf auth login` saved
    if not token:
        raise HubError("No Hugging Face token: set HF_TOKEN (or paste a write token) to push.")
    api = HfApi(token=token)
    try:
        with tempfile.TemporaryDirectory(prefix="dlapp-push-") as tmp:
            folder = stage(model_id, repo_id, Path(tmp), store=store)
            url = api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
            api.upload_folder(repo_id=repo_id, folder_path=folder, commit_message=f"Upload {model_id} from dlapp")
    except HfHubHTTPError as exc:
        status = getattr(getattr(exc, "response", None), "status_code", None)
        if status in (401, 403):
            raise HubError(f"The token cannot write to {repo_id}: the repo exists but isn't yours, or the token "
                           "is invalid or read-only.") from None
        raise HubError(f"The Hub refused the upload: {_scrub(str(exc).splitlines()[0], token)}") from None
    except Exception as exc:  # httpx and socket errors: the network, not the request
        if isinstance(exc, HubError):
            raise
        raise HubError(f"Cannot reach the Hugging Face Hub ({type(exc).__name__}); check the network.") from None
    return str(url)


def space_hardware(space_id: str, *, timeout_s: float = 3.0) -> str | None:
    """The hardware a Space runs on (e.g. "cpu-basic"), or None if the Hub can't say in time."""
    import threading

    result: list[str | None] = [None]

    def ask() -> None:
        try:
            from huggingface_hub import HfApi

            result[0] = str(HfApi().get_space_runtime(space_id).hardware or "") or None
        except Exception as exc:  # offline, private Space, rate limit: the header just omits it
            log.info("Space hardware unknown: %s", type(exc).__name__)

    worker = threading.Thread(target=ask, daemon=True)
    worker.start()
    worker.join(timeout_s)  # never hold up start-up for long
    return result[0]
