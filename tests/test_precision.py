"""`--precision mixed`: bfloat16 compute on a CPU that has it (float16 on GPUs), while the final softmax,
the temperature and the saved serving model stay float32; a mixed model is not the float32 one's cache hit."""

from __future__ import annotations

import zipfile

import pytest

from dlapp.devices import cpu_has_bf16, placement
from dlapp.errors import UsageError
from dlapp.store import get_store
from dlapp.testing import class_folder
from dlapp.training import TrainConfig, train


@pytest.fixture()
def colours(tmp_path) -> str:
    return str(class_folder(tmp_path / "colours", classes=("blue", "green", "red"), per_class=12, size=16))


@pytest.mark.skipif(not cpu_has_bf16(), reason="this CPU has no native bfloat16")
def test_mixed_precision_trains_in_bfloat16_and_saves_a_float32_model(model_dir, colours):
    import keras

    import dlapp.layers  # noqa: F401  registers dlapp's layers

    config = TrainConfig(colours, preset="fast", epochs=1, batch_size=8)
    where = placement("mixed")
    assert where.policy == "mixed_bfloat16" and "mixed_bfloat16" in where.device
    mixed = train(config, where=where)
    assert mixed.card.provenance.precision == "mixed_bfloat16"
    assert keras.mixed_precision.global_policy().name == "float32"  # the process is left as it was

    path = get_store().model_path(mixed.model_id)
    with zipfile.ZipFile(path) as z:
        assert b"mixed_" not in z.read("config.json")  # every layer of the served model computes in float32
    model = keras.saving.load_model(path, safe_mode=True)
    assert model.output.dtype == "float32"
    assert all(w.dtype == "float32" for w in model.weights if "float" in str(w.dtype))

    plain = train(config, where=placement("float32"))  # another model, not the mixed one from the cache
    assert not plain.cached and plain.model_id != mixed.model_id
    assert plain.card.provenance.precision == "float32"


def test_unknown_precision_is_refused():
    with pytest.raises(UsageError, match="precision must be one of"):
        placement("half")  # type: ignore[arg-type]
