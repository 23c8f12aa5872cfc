"""A new 2-D game costs the server no memory that outlives it: games borrow engines (networks, optimizers, traced
steps) from one small pool and keep their own state as NumPy arrays, instead of building Keras models and
tf.functions that TensorFlow and Keras keep for the life of the process (about 10 MB a game, before)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dlapp import gan2d

WARM_UP_GAMES = 5  # the first games build the engine and trace its steps, and fill Gradio's and malloc's pools
MEASURED_GAMES = 20
MAX_GROWTH_PER_GAME_MB = 2  # a game's own state is ~0.3 MB (weights, Adam's moments, 4,096 real points)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS in /proc/{pid}/status")


@pytest.mark.app
def test_new_games_through_the_api_leave_the_servers_memory_flat(client, app_server):
    app_server.wait_warm()  # the default models load in the background: their memory is not the games'
    shapes = list(gan2d.SHAPES)

    def play(i: int) -> None:
        result = client.predict(shape=shapes[i % len(shapes)], preset=("balanced", "collapse")[i % 2], steps=30,
                                seed=i, api_name="/gan2d")
        assert result["steps"] == 30, result

    for i in range(WARM_UP_GAMES):
        play(i)
    before = rss_mb(app_server.proc.pid)
    for i in range(WARM_UP_GAMES, WARM_UP_GAMES + MEASURED_GAMES):
        play(i)
    growth = rss_mb(app_server.proc.pid) - before
    print(f"server RSS {before:.0f} MB after {WARM_UP_GAMES} games, +{growth:.1f} MB after {MEASURED_GAMES} more")
    assert growth < MAX_GROWTH_PER_GAME_MB * MEASURED_GAMES, \
        f"{MEASURED_GAMES} new games grew the server by {growth:.0f} MB ({growth / MEASURED_GAMES:.1f} MB a game)"
    assert app_server.alive()


def test_games_of_any_settings_take_turns_on_the_same_engine():
    """Noise size and discriminator steps are variables of the traced steps, not constants: a game of any settings
    plays on an engine already built; each keeps its own state between turns."""
    first = gan2d.Game(gan2d.GameSettings(seed=1))
    first.play(30)
    built = gan2d.ENGINES.built
    others = [gan2d.Game(gan2d.GameSettings(noise_size=n, d_steps=d, seed=n, g_learning_rate=0.01))
              for n, d in ((1, 1), (5, 3), (16, 10), (2, 2))]
    for game in others:
        game.play(30)
        game.step_once()
    assert gan2d.ENGINES.built == built
    alone = gan2d.Game(gan2d.GameSettings(seed=1))
    alone.play(60)
    first.play(30)  # its turn again, after four other games used the engine
    np.testing.assert_allclose(first.generated(), alone.generated(), rtol=1e-5, atol=1e-5)
    assert [g.d_step for g in others] == [31, 91, 301, 61]


def test_a_games_unused_noise_inputs_stay_silent():
    """The generator's inputs past a game's noise size are zeros, and the weights that read them stay zero: the
    game plays exactly the network of its own noise size."""
    game = gan2d.Game(gan2d.GameSettings(noise_size=3))
    game.play(50)
    kernel = game.weights("generator")[0]
    assert kernel.shape == (gan2d.MAX_NOISE, gan2d.HIDDEN[0])
    assert kernel[:3].any() and not kernel[3:].any()
