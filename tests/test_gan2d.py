"""The 2-D adversarial game (dlapp/gan2d.py): it converges from a fixed seed, the collapse preset covers fewer
modes, the step-by-step mode moves one side at a time, games share nothing, bad settings say why; and the
/gan2d endpoint through gradio_client. Each game is two 64-unit MLPs on 2-D points: seconds, not a training."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dlapp import gan2d, limits
from dlapp.errors import UsageError
from dlapp.testing import error_of


def converged(game: gan2d.Game, steps: int) -> gan2d.Quality:
    game.play(steps)
    return game.quality()


@pytest.mark.parametrize("shape", ["ring", "moons"])
def test_the_game_converges_from_a_fixed_seed(shape):
    q = converged(gan2d.Game(gan2d.settings_for("balanced", shape=shape, seed=0)), 1_000)
    assert q.modes_covered == q.modes == 8, q
    assert q.on_target >= 0.8, q


def test_the_collapse_preset_covers_fewer_modes_at_every_point_of_its_game():
    balanced = converged(gan2d.Game(gan2d.settings_for("balanced", seed=0)), 1_000)
    game = gan2d.Game(gan2d.settings_for("collapse", seed=0))
    covered = []
    for _ in range(6):
        game.play(250)
        covered.append(game.quality().modes_covered)
    assert max(covered) <= 2 < balanced.modes_covered, covered
    assert game.history["coverage"][-1] <= 0.25  # the curve the page draws drops with it


def test_keras_fit_plays_the_same_game_through_train_step():
    game = gan2d.Game(gan2d.settings_for("balanced", seed=0))
    logs = game.fit(1_000)
    assert set(logs) >= {"d_loss", "g_loss"} and all(math.isfinite(v) for v in logs.values())
    q = game.quality()
    assert q.modes_covered == q.modes and q.on_target >= 0.8, q


def test_the_step_mode_moves_one_side_at_a_time():
    game = gan2d.Game(gan2d.GameSettings(d_steps=2))
    sides = []
    for _ in range(6):
        d, g = game.weights("discriminator"), game.weights("generator")
        side = game.next_side
        assert game.step_once() == side
        sides.append(side)
        d_moved = any(not np.array_equal(a, b) for a, b in zip(d, game.weights("discriminator"), strict=True))
        g_moved = any(not np.array_equal(a, b) for a, b in zip(g, game.weights("generator"), strict=True))
        assert (d_moved, g_moved) == ((True, False) if side == "discriminator" else (False, True)), side
    assert sides == ["discriminator", "discriminator", "generator"] * 2
    assert (game.step, game.d_step) == (2, 4)
    assert game.history["step"] == [1, 2]  # a curve point per generator step at first


def test_a_game_is_its_own_seed_alone_whatever_other_games_do():
    alone = gan2d.Game(gan2d.GameSettings(seed=3))
    alone.play(100)
    a, b = gan2d.Game(gan2d.GameSettings(seed=3)), gan2d.Game(gan2d.GameSettings(seed=4, g_learning_rate=0.01))
    for _ in range(4):  # two visitors' games interleaved
        a.play(25)
        b.play(25)
    np.testing.assert_allclose(a.generated(), alone.generated(), rtol=1e-5, atol=1e-5)
    assert not np.allclose(b.generated(), alone.generated())


def test_the_quality_figure_reads_collapse_and_cover():
    real, labels = gan2d.real_points("ring", gan2d.POOL, 0)
    ring = gan2d.SHAPES["ring"]
    whole = gan2d.measure(real[:1000], real, labels, ring)
    assert (whole.modes_covered, whole.on_target) == (8, 1.0)
    one_mode = gan2d.measure(real[labels == 0][:300], real, labels, ring)
    assert (one_mode.modes_covered, one_mode.on_target) == (1, 1.0)  # on target, and still a collapse
    between = gan2d.measure(np.zeros((100, 2), "float32"), real, labels, ring)  # the ring's empty centre
    assert (between.modes_covered, between.on_target) == (0, 0.0)
    assert gan2d.measure(np.full((10, 2), np.nan, "float32"), real, labels, ring).modes_covered == 0


def test_every_shape_has_its_modes_and_fits_its_plot():
    for name, shape in gan2d.SHAPES.items():
        points, labels = gan2d.real_points(name, 2_000, 1)
        assert points.shape == (2_000, 2) and points.dtype == np.float32
        assert set(labels.tolist()) == set(range(shape.modes)), name
        assert np.abs(points).max() < shape.extent, name


def test_a_snapshot_holds_what_the_page_draws():
    game = gan2d.Game(gan2d.GameSettings(), shown=50, grid=12)
    game.play(30)
    snap = game.snapshot()
    assert snap.real.shape == snap.fake.shape == snap.pull.shape == (50, 2)
    assert snap.surface.shape == (12, 12) and ((snap.surface >= 0) & (snap.surface <= 1)).all()
    np.testing.assert_allclose(np.linalg.norm(snap.pull, axis=1), 1, atol=1e-4)
    assert snap.history["step"] == [25] and snap.step == 30  # one point per GAN2D_HISTORY_EVERY steps


def test_a_game_stops_at_its_step_cap(monkeypatch):
    monkeypatch.setattr(limits, "GAN2D_MAX_STEPS", 40)
    game = gan2d.Game(gan2d.GameSettings())
    game.play(100)
    assert game.step == 40 and game.steps_left == 0
    game.play(5)
    assert game.step == 40
    with pytest.raises(UsageError, match="40 generator steps; press Reset"):
        game.step_once()


@pytest.mark.parametrize(("changes", "says"), [
    ({"shape": "heart"}, "Unknown shape 'heart'; choose from ring, moons, grid, spiral"),
    ({"d_learning_rate": 0}, "discriminator's learning rate must be a number above 0.0 and at most 0.1 (got 0)"),
    ({"g_learning_rate": -1e-3}, "generator's learning rate must be a number above 0.0"),
    ({"g_learning_rate": 0.5}, "at most 0.1 (got 0.5)"),
    ({"d_learning_rate": float("nan")}, "(got nan)"),
    ({"d_learning_rate": "0.01"}, "(got '0.01')"),
    ({"d_steps": 0}, "Discriminator steps per generator step must be a whole number from 1 to 10 (got 0)"),
    ({"d_steps": 2.5}, "from 1 to 10 (got 2.5)"),
    ({"noise_size": 17}, "The noise size must be a whole number from 1 to 16 (got 17)"),
    ({"seed": -1}, "The seed must be a whole number from 0 to 2147483647 (got -1)"),
    ({"seed": True}, "(got True)"),
])
def test_bad_settings_say_which_and_why(changes, says):
    assert says in error_of(gan2d.GameSettings, **changes)


def test_bad_game_arguments_say_which_and_why():
    assert "Unknown game setting(s) lr; known:" in error_of(gan2d.GameSettings.of, {"lr": 0.1})
    assert "Unknown preset 'fast'; choose from balanced, collapse" in error_of(gan2d.settings_for, "fast")
    assert "Points shown must be a whole number from 10 to 1,000 (got 5000)" in error_of(gan2d.Game,
                                                                                          gan2d.GameSettings(),
                                                                                          shown=5000)
    assert "grid size must be a whole number from 8 to 80 (got 1000)" in error_of(gan2d.Game, gan2d.GameSettings(),
                                                                                   grid=1000)
    game = gan2d.Game(gan2d.GameSettings())
    assert "Rounds must be a whole number from 1 to 1,000 (got 100000)" in error_of(game.play, 100_000)
    assert gan2d.GameSettings.of({"d_steps": 2.0}).d_steps == 2  # a number box's 2.0 is a whole number


# ---------------------------------------------------------------- the /gan2d endpoint (the real app)

@pytest.mark.app
def test_the_gan2d_endpoint_plays_a_game_and_refuses_bad_values(client, app_server):
    result = client.predict(shape="ring", preset="balanced", steps=1_000, seed=0, api_name="/gan2d")
    assert result["modes_covered"] == result["modes"] == 8 and result["on_target"] >= 0.8, result
    collapsed = client.predict(shape="ring", preset="collapse", steps=1_000, seed=0, api_name="/gan2d")
    assert collapsed["modes_covered"] <= 2, collapsed
    for kwargs, says in (({"steps": 10**9}, "Steps must be a whole number from 1 to 5,000"),
                         ({"shape": "../../etc/passwd"}, "Unknown shape"),
                         ({"preset": "collapse; rm -rf /"}, "Unknown preset"),
                         ({"seed": -5}, "The seed must be a whole number")):
        assert says in error_of(client.predict, **{"shape": "ring", "preset": "balanced", "steps": 10, "seed": 0,
                                                   **kwargs}, api_name="/gan2d")
    assert app_server.alive()
