"""Generate tab: the adversarial game in 2-D, live (GAN Lab style; dlapp/gan2d.py plays it), and a trained
class-conditional GAN (the generate task, e.g. cifar10-gan) drawing pictures of a class, with what the project's
own image classifier sees in each (dlapp/generating.py, as the /generate API and `python -m dlapp generate`).

Each visitor's game lives in their own gr.State (weights, optimizer state, history: nothing shared). Play turns
a gr.Timer on; each tick plays limits.GAN2D_ROUNDS_PER_TICK rounds and redraws. The step-by-step mode moves
one side at a time and says which. The tab is sections (accordions), so a trained generator's section can
sit beside the game.
"""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr
import numpy as np
import plotly.graph_objects as go

from .. import gan2d, generating, limits
from ..errors import DlappError, ModelNotFoundError, UsageError
from . import plots
from .common import user_errors, visitor_store

REAL_COLOUR, FAKE_COLOUR = plots.GREEN, "#7c3aed"  # green: real, as the surface's "looks real"; violet: generated
# The surface: light violet where the discriminator says "generated", white at 1/2, light green where "real",
# pale enough that the points on it stay readable.
FIELD_HEIGHT = 470  # px: the square field fills a desktop column; a phone keeps it square at its width
PULL_LENGTH = 0.07  # each generated point's pull, drawn as a segment this share of the half-width long
SURFACE_SCALE = [[0.0, "#ddd6fe"], [0.5, "#ffffff"], [1.0, "#bbf7d0"]]

EXPLAIN = f"""
A **generator** (violet points) turns random noise into 2-D points. A **discriminator** looks at a point and
says how real it looks: the background is its answer, **green** where it says *real*, **violet** where it says
*generated*. They take turns: the discriminator learns to tell the green points from the violet ones, then the
generator moves its points towards where the discriminator says *real*. When the game works, the violet points
cover the green ones and the background fades to white: the discriminator can no longer tell them apart (its
loss settles near {gan2d.EQUILIBRIUM_D_LOSS:.2f}, the generator's near {gan2d.EQUILIBRIUM_G_LOSS:.2f}).
**Mode collapse**: when the generator learns much faster than the discriminator, it piles its points on the one
spot the discriminator likes best, then hops to the next: few modes covered. Try the preset.
"""


@dataclass
class GenerateTab:
    game: gr.State
    playing: gr.State
    timer: gr.Timer
    field: gr.Plot
    losses: gr.Plot
    coverage: gr.Plot
    quality: gr.Markdown
    status: gr.Markdown
    play: gr.Button
    step: gr.Button
    reset: gr.Button
    shape: gr.Dropdown
    preset: gr.Radio
    preset_says: gr.Markdown
    d_lr: gr.Number
    g_lr: gr.Number
    d_steps: gr.Slider
    noise: gr.Slider
    seed: gr.Number
    drawing: DrawSection | None = None  # the trained generator's section, below the game


@dataclass
class DrawSection:
    """A trained generator: pick a model, a class and a seed; a grid of pictures; walks between two seeds or two
    classes; what the default image model sees in each picture."""

    model: gr.Dropdown
    size_note: gr.Markdown
    class_name: gr.Dropdown
    seed: gr.Number
    n: gr.Slider
    resample: gr.Radio
    draw: gr.Button
    gallery: gr.Gallery
    seen: gr.Markdown
    table: gr.Dataframe
    seed_a: gr.Number
    seed_b: gr.Number
    class_a: gr.Dropdown
    class_b: gr.Dropdown
    steps: gr.Slider
    walk: gr.Button
    walk_gallery: gr.Gallery
    walk_seen: gr.Markdown
    walk_table: gr.Dataframe


DISPLAY_SCALE = 4  # a 32-px picture shown 128 px wide: big enough to see, small enough for 8 in a desktop row
SEEN_HEADERS = ["#", "seed", "asked for", "the classifier sees", "its top probability"]
NO_GENERATOR = ("No generator model yet. Train one on the Train tab (task **generate**, data cifar10), or with "
                "`python -m dlapp train --dataset cifar10 --task generate --preset fast`.")
DRAW_EXPLAIN = """
A **class-conditional GAN** learnt to draw CIFAR-10's classes: its generator turns a seed's noise and a class into a
picture. The same seed and class always draw the same picture. Below each picture: what this app's own **image
classifier** (the default Image model) sees in it, *none of these* included: a fair, if partial, judge of whether the
picture looks like its class.
"""


def generator_choices() -> list[tuple[str, str]]:
    """(label, id) of every generator this visitor can use, with its data set and headline figure."""
    return [(f"{c.id}  ·  {c.dataset.label}  ·  {c.headline.name} {c.headline}", c.id)
            for c in visitor_store().list("generate")]


def default_generator() -> str | None:
    try:
        return visitor_store().default_id("generate")
    except DlappError:
        return None


def class_choices(model_id: str | None) -> list[str]:
    if not model_id:
        return []
    try:
        return list(visitor_store().card(model_id).class_names)
    except DlappError:
        return []


def size_note(model_id: str | None) -> str:
    """What the pictures really are: the generator's size, and how the page enlarges them."""
    if not model_id:
        return NO_GENERATOR
    try:
        generator = generating.generator_for(model_id, store=visitor_store())  # loaded once, as a draw would
    except DlappError as exc:
        return f"{exc} {NO_GENERATOR if isinstance(exc, ModelNotFoundError) else ''}"
    card, (h, w) = generator.card, generator.model.output_shape[1:3]
    return (f"`{model_id}` draws **{h}×{w}-pixel** pictures. They are shown "
            f"{DISPLAY_SCALE}× larger here: *nearest* keeps each pixel a square, as drawn; *bicubic* smooths them, "
            f"which adds nothing the generator drew. · {card.headline.name}: {card.headline}")


def draw_layout() -> DrawSection:
    model0 = default_generator()
    classes0 = class_choices(model0)
    with gr.Accordion("A conditional GAN: draw pictures of a class", open=True, elem_id="gan-draw"):
        gr.Markdown(DRAW_EXPLAIN, elem_classes="dlapp-caption")
        with gr.Row():
            model = gr.Dropdown(generator_choices(), value=model0, label="Generator model", allow_custom_value=True,
                                elem_id="gen-model", min_width=240)
            class_name = gr.Dropdown(classes0, value=classes0[0] if classes0 else None, label="Class",
                                     elem_id="gen-class", min_width=140)
            seed = gr.Number(0, precision=0, minimum=0, maximum=limits.MAX_SEED, label="Seed (of the first picture)",
                             elem_id="gen-seed", min_width=140)
            n = gr.Slider(1, limits.MAX_GENERATE, value=16, step=1, label="Pictures", elem_id="gen-n", min_width=180)
        size = gr.Markdown(size_note(model0), elem_id="gen-size-note", elem_classes="dlapp-caption")
        with gr.Row():
            draw = gr.Button("Draw", variant="primary", elem_id="gen-draw", min_width=120)
            resample = gr.Radio([("nearest", "nearest"), ("bicubic", "bicubic")], value="nearest",
                                label="Enlarged with", elem_id="gen-resample", min_width=200)
        gallery = gr.Gallery(show_label=False, columns=8, height="auto", format="png", object_fit="contain",
                             elem_id="gen-gallery", buttons=["download"])
        seen = gr.Markdown(elem_id="gen-seen")
        table = gr.Dataframe(headers=SEEN_HEADERS, interactive=False, visible=False, elem_id="gen-table",
                             max_height=320, buttons=[])
        with gr.Accordion("Walk between two seeds, or between two classes for one seed", open=True,
                          elem_id="gen-walk"):
            gr.Markdown("The noise moves along a great circle from seed A's to seed B's (the same seed: it stays); "
                        "the class moves as a blend of the two classes' conditioning (the same class: it stays).",
                        elem_classes="dlapp-caption")
            with gr.Row():
                seed_a = gr.Number(0, precision=0, minimum=0, maximum=limits.MAX_SEED, label="Seed A",
                                   elem_id="gen-seed-a", min_width=110)
                seed_b = gr.Number(1, precision=0, minimum=0, maximum=limits.MAX_SEED, label="Seed B",
                                   elem_id="gen-seed-b", min_width=110)
                class_a = gr.Dropdown(classes0, value=classes0[0] if classes0 else None, label="Class A",
                                      elem_id="gen-class-a", min_width=130)
                class_b = gr.Dropdown(classes0, value=classes0[0] if classes0 else None, label="Class B",
                                      elem_id="gen-class-b", min_width=130)
                steps = gr.Slider(2, limits.MAX_INTERPOLATION_STEPS, value=8, step=1, label="Steps",
                                  elem_id="gen-steps", min_width=160)
            walk = gr.Button("Walk", variant="primary", elem_id="gen-walk-go")
            walk_gallery = gr.Gallery(show_label=False, columns=8, height="auto", format="png",
                                      object_fit="contain", elem_id="gen-walk-gallery", buttons=["download"])
            walk_seen = gr.Markdown(elem_id="gen-walk-seen")
            walk_table = gr.Dataframe(headers=SEEN_HEADERS, interactive=False, visible=False,
                                      elem_id="gen-walk-table", max_height=320, buttons=[])
    return DrawSection(model, size, class_name, seed, n, resample, draw, gallery, seen, table, seed_a, seed_b,
                       class_a, class_b, steps, walk, walk_gallery, walk_seen, walk_table)


def layout() -> GenerateTab:
    defaults = gan2d.GameSettings()
    with gr.Accordion("The adversarial game in 2-D: watch a GAN learn, in seconds", open=True, elem_id="gan2d"):
        gr.Markdown(EXPLAIN, elem_classes="dlapp-caption")
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=300):
                field = gr.Plot(field_figure(None, gan2d.SHAPES[defaults.shape]), show_label=False,
                                elem_id="gan2d-field")
            with gr.Column(scale=2, min_width=300):
                quality = gr.Markdown(elem_id="gan2d-quality")
                losses = gr.Plot(show_label=False, elem_id="gan2d-losses")
                coverage = gr.Plot(show_label=False, elem_id="gan2d-coverage")
        with gr.Row():
            play = gr.Button("▶ Play", variant="primary", elem_id="gan2d-play", min_width=100)
            step = gr.Button("Step: discriminator", elem_id="gan2d-step", min_width=100)
            reset = gr.Button("Reset", elem_id="gan2d-reset", min_width=100)
        status = gr.Markdown(elem_id="gan2d-status")
        with gr.Row():
            shape = gr.Dropdown([(s.label, s.name) for s in gan2d.SHAPES.values()], value=defaults.shape,
                                label="Real points", elem_id="gan2d-shape")
            with gr.Column():
                preset = gr.Radio([(p.label, name) for name, p in gan2d.PRESETS.items()], value="balanced",
                                  label="Settings preset", elem_id="gan2d-preset")
                preset_says = gr.Markdown(gan2d.PRESETS["balanced"].says, elem_id="gan2d-preset-says")
        with gr.Accordion("Settings (changing one starts a new game)", open=False, elem_id="gan2d-settings"):
            with gr.Row():
                low, high = limits.GAN2D_LEARNING_RATE_RANGE
                d_lr = gr.Number(defaults.d_learning_rate, label=f"Discriminator learning rate (≤ {high})",
                                 step=0.0001, elem_id="gan2d-d-lr")  # no bounds here: the engine's error says why
                g_lr = gr.Number(defaults.g_learning_rate, label=f"Generator learning rate (≤ {high})",
                                 step=0.0001, elem_id="gan2d-g-lr")
            with gr.Row():
                d_steps = gr.Slider(*limits.GAN2D_D_STEPS_RANGE, value=defaults.d_steps, step=1,
                                    label="Discriminator steps per generator step", elem_id="gan2d-d-steps")
                noise = gr.Slider(*limits.GAN2D_NOISE_SIZE_RANGE, value=defaults.noise_size, step=1,
                                  label="Noise size (the generator's input)", elem_id="gan2d-noise")
                seed = gr.Number(defaults.seed, label="Seed", precision=0, elem_id="gan2d-seed")
    # A game holds its networks' state (~0.3 MB of arrays): an idle one is dropped after an hour (the next click
    # starts anew).
    game = gr.State(None, time_to_live=limits.GAN2D_IDLE_S)
    playing = gr.State(False)
    timer = gr.Timer(limits.GAN2D_TICK_S, active=False)
    drawing = draw_layout()
    return GenerateTab(game, playing, timer, field, losses, coverage, quality, status, play, step, reset, shape,
                       preset, preset_says, d_lr, g_lr, d_steps, noise, seed, drawing)


# ---------------------------------------------------------------- handlers (plain functions of values)

def settings_of(shape, d_lr, g_lr, d_steps, noise, seed) -> gan2d.GameSettings:
    """The settings the page shows, checked (an empty box is an error that says which)."""
    values = {"shape": shape, "d_learning_rate": d_lr, "g_learning_rate": g_lr, "d_steps": d_steps,
              "noise_size": noise, "seed": seed}
    for name, value in values.items():
        if value is None or value == "":
            raise UsageError(f"Fill in {name.replace('_', ' ')} (it is empty).")
    return gan2d.GameSettings(**values)


def views(game: gan2d.Game) -> tuple[go.Figure, go.Figure, go.Figure, str]:
    """The field, the losses, the coverage and the quality line of a game."""
    snap = game.snapshot()
    return (field_figure(snap, gan2d.SHAPES[game.settings.shape]), loss_figure(snap.history),
            coverage_figure(snap.history), quality_text(snap))


def quality_text(snap: gan2d.Snapshot) -> str:
    q = snap.quality
    verdict = ""
    if snap.step >= limits.GAN2D_HISTORY_EVERY:
        if q.modes_covered == q.modes and q.on_target >= 0.8:
            verdict = " · **converged**: every mode covered"
        elif q.coverage <= 0.5:
            verdict = " · **mode collapse**: most modes missed"
    return (f"**Modes covered: {q.modes_covered} of {q.modes}** · points on target: **{q.on_target:.0%}** · "
            f"generator step {snap.step:,} (discriminator steps {snap.d_step:,}){verdict}")


def field_figure(snap: gan2d.Snapshot | None, shape: gan2d.Shape) -> go.Figure:
    """The real and generated points over the discriminator's decision surface (before a game: the real ones)."""
    fig = plots.figure("", height=FIELD_HEIGHT)
    if snap is None:
        real, _ = gan2d.real_points(shape.name, limits.GAN2D_POINTS_SHOWN, 0)
        _points(fig, "real", real, REAL_COLOUR, 5, shape)
        fig.add_annotation(text="press Play, or Step", x=0.5, y=0.02, xref="paper", yref="paper", showarrow=False,
                           font={"color": "#6b7280"})
    else:
        fig.add_trace(go.Heatmap(x=snap.axis, y=snap.axis, z=np.round(snap.surface, 3), colorscale=SURFACE_SCALE,
                                 zmin=0, zmax=1, showscale=False, name="discriminator",
                                 hovertemplate="D says real: %{z:.0%}<extra></extra>"))
        _points(fig, "real", snap.real, REAL_COLOUR, 5, shape)
        _points(fig, "generated", snap.fake, FAKE_COLOUR, 6, shape)
        ends = snap.fake + PULL_LENGTH * shape.extent * snap.pull  # one short segment per point, joined by gaps
        segments = np.stack([snap.fake, ends, np.full_like(ends, np.nan)], axis=1).reshape(-1, 2)
        fig.add_trace(go.Scatter(x=np.round(segments[:, 0], 3), y=np.round(segments[:, 1], 3), mode="lines",
                                 name="pull on generated points", line={"color": FAKE_COLOUR, "width": 1},
                                 opacity=0.45, hoverinfo="skip", connectgaps=False))
    fig.update_layout(hovermode="closest", margin={"l": 8, "r": 8, "t": 36, "b": 8})
    fig.update_xaxes(range=[-shape.extent, shape.extent], showticklabels=False, showgrid=False, constrain="domain")
    fig.update_yaxes(range=[-shape.extent, shape.extent], showticklabels=False, showgrid=False,
                     scaleanchor="x", constrain="domain")
    return fig


def _points(fig: go.Figure, name: str, points: np.ndarray, colour: str, size: int, shape: gan2d.Shape) -> None:
    shown = np.clip(np.round(points, 3), -shape.extent, shape.extent)  # a point far off stays on the edge
    fig.add_trace(go.Scatter(x=shown[:, 0], y=shown[:, 1], mode="markers", name=name,
                             marker={"color": colour, "size": size, "opacity": 0.75},
                             hovertemplate=f"{name}<extra></extra>"))


def loss_figure(history: dict[str, list[float]]) -> go.Figure:
    fig = plots.figure("Losses", x_title="generator step", height=260)
    if not history["step"]:
        return plots.note(fig, "the losses appear here")
    few = len(history["step"]) <= 40  # the step mode's first points: one marker each, a line alone shows nothing
    plots.add_line(fig, history["step"], history["d_loss"], "discriminator", plots.GREEN, markers=few)
    plots.add_line(fig, history["step"], history["g_loss"], "generator", FAKE_COLOUR, markers=few)
    for value in (gan2d.EQUILIBRIUM_D_LOSS, gan2d.EQUILIBRIUM_G_LOSS):  # where a fooled discriminator leaves them
        fig.add_hline(y=value, line={"color": plots.GREY, "dash": "dot", "width": 1})
    fig.update_yaxes(rangemode="tozero")
    return fig


def coverage_figure(history: dict[str, list[float]]) -> go.Figure:
    fig = plots.figure("Modes covered", x_title="generator step", height=220, y_range=(0, 1.05), y_format=".0%")
    if not history["step"]:
        return plots.note(fig, "the share of modes covered appears here")
    plots.add_line(fig, history["step"], history["coverage"], "modes covered", plots.BLUE,
                   markers=len(history["step"]) <= 40, hover="%{y:.0%}")
    fig.update_layout(showlegend=False)
    return fig


def _fresh(game: gan2d.Game | None, *settings) -> gan2d.Game:
    """The visitor's game; a new one from the page's settings when there is none yet (or it was dropped idle).
    A running game keeps its own settings: a number half typed ("0." of "0.005") reaches it only when it
    leaves its box (apply_settings)."""
    return game if game is not None else gan2d.Game(settings_of(*settings))


@user_errors
def new_game(shape, d_lr, g_lr, d_steps, noise, seed):
    """Reset, or a changed setting: a new game, paused, drawn at step 0."""
    game = gan2d.Game(settings_of(shape, d_lr, g_lr, d_steps, noise, seed))
    return (game, False, gr.Timer(active=False), "▶ Play", "Step: discriminator",
            "A new game: press Play, or Step to move one side at a time.", *views(game))


@user_errors
def apply_settings(game, shape, d_lr, g_lr, d_steps, noise, seed):
    """A setting left its box: a new game when the settings differ from the game's (a box left unchanged, or
    changed back, keeps the game)."""
    settings = settings_of(shape, d_lr, g_lr, d_steps, noise, seed)
    if game is not None and game.settings == settings:
        return gr.skip()
    return new_game.__wrapped__(shape, d_lr, g_lr, d_steps, noise, seed)


@user_errors
def toggle(game, playing, shape, d_lr, g_lr, d_steps, noise, seed):
    """Play or Pause."""
    game = _fresh(game, shape, d_lr, g_lr, d_steps, noise, seed)
    playing = not playing and game.steps_left > 0
    words = "Playing…" if playing else f"Paused at generator step {game.step:,}."
    return game, playing, gr.Timer(active=playing), "Pause" if playing else "▶ Play", words


@user_errors
def tick(game, playing, shape, d_lr, g_lr, d_steps, noise, seed):
    """One tick of Play: a few rounds, then redraw; stops itself at the step cap."""
    if not playing:
        return None
    game = _fresh(game, shape, d_lr, g_lr, d_steps, noise, seed)
    game.play(min(limits.GAN2D_ROUNDS_PER_TICK, max(1, game.steps_left)))
    out = {"game": game}
    if game.steps_left <= 0:
        out |= {"playing": False, "timer": gr.Timer(active=False), "play": "▶ Play",
                "status": f"Stopped at the cap of {limits.GAN2D_MAX_STEPS:,} generator steps: press Reset."}
    return out, views(game)


@user_errors
def step_once(game, shape, d_lr, g_lr, d_steps, noise, seed):
    """One step of one side (pauses Play)."""
    game = _fresh(game, shape, d_lr, g_lr, d_steps, noise, seed)
    side = game.step_once()
    n = game.settings.d_steps
    said = {"discriminator": f"Just ran: **{game.last if n > 1 else 'one discriminator step'}**. The background "
                             "moved: greener where the real points are, more violet under the generated ones.",
            "generator": "Just ran: **one generator step**. The violet points moved towards the green background "
                         "(where the discriminator says *real*)."}[side]
    return (game, False, gr.Timer(active=False), "▶ Play", f"Step: {game.next_side}", said, *views(game))


def pick_preset(name: str):
    """A preset fills in its settings (then apply_settings starts its game) and says what to watch for."""
    s = gan2d.settings_for(name)
    return s.d_learning_rate, s.g_learning_rate, s.d_steps, gan2d.PRESETS[name].says


def run_game(shape: str = "ring", preset: str = "balanced", steps: int = 1_000, seed: int = 0) -> dict:
    """Play one game for `steps` generator steps and return its quality figures and losses (the /gan2d API).

    Args:
        shape: the real distribution: ring, moons, grid or spiral.
        preset: "balanced" (converges) or "collapse" (provokes mode collapse).
        steps: generator steps, 1 to limits.GAN2D_API_MAX_STEPS.
        seed: the game's seed.

    Returns:
        {"modes_covered", "modes", "on_target", "per_mode", "steps", "d_loss", "g_loss", "settings"}.
    """
    gan2d.check_range("Steps", steps, (1, limits.GAN2D_API_MAX_STEPS))
    game = gan2d.Game(gan2d.settings_for(preset, shape=shape, seed=seed))
    while game.step < steps:
        game.play(min(limits.GAN2D_ROUNDS_RANGE[1], steps - game.step))
    q = game.quality()
    return {"modes_covered": q.modes_covered, "modes": q.modes, "on_target": round(q.on_target, 4),
            "per_mode": q.per_mode, "steps": game.step, "d_loss": round(game.history["d_loss"][-1], 4),
            "g_loss": round(game.history["g_loss"][-1], 4), "settings": game.settings.as_dict()}


# ---------------------------------------------------------------- a trained generator (plain functions of values)

def shown(drawn: generating.Drawn, resample: str) -> tuple[list, str, dict]:
    """The gallery (enlarged pictures, each captioned with what the classifier sees), a summary line, and the
    table of what the classifier sees in each picture."""
    method = resample if resample in generating.UPSCALE_METHODS else "nearest"
    seen = drawn.seen or [None] * len(drawn.pictures)
    items = [(generating.upscale(p, DISPLAY_SCALE, method), _caption(v, r))
             for p, v, r in zip(drawn.pictures, seen, drawn.requested, strict=True)]
    h, w = drawn.side
    summary = (f"**{len(items)} pictures of {h}×{w} pixels** from `{drawn.model_id}`, shown {DISPLAY_SCALE}× "
               f"larger ({method}). {drawn.agreement()}")
    rows = [[i + 1, s, r, v.label if v else "n/a", f"{v.probability:.0%}" if v else ""]
            for i, (s, r, v) in enumerate(zip(drawn.seeds, drawn.requested, seen, strict=True))]
    return items, summary, gr.update(value=rows, visible=drawn.seen is not None)


def _caption(seen: generating.Seen | None, requested: str) -> str:
    if seen is None:
        return requested
    mark = "✓ " if seen.label == requested else ""
    return f"{mark}{seen.label} {seen.probability:.0%}"


def _no_generator(exc: ModelNotFoundError, model_id: str | None) -> UsageError:
    return UsageError(str(exc) if model_id else NO_GENERATOR.replace("**", "").replace("`", ""))


@user_errors
def draw_pictures(model_id, class_name, seed, n, resample):
    """Draw: `n` pictures of the class from seeds seed, seed + 1, …"""
    try:
        drawn = generating.generate(model_id or None, class_name, seed=seed, n=n, store=visitor_store())
    except ModelNotFoundError as exc:
        raise _no_generator(exc, model_id) from None
    return shown(drawn, resample)


@user_errors
def walk_pictures(model_id, seed_a, seed_b, class_a, class_b, steps, resample):
    """Walk: from (seed A, class A) to (seed B, class B)."""
    try:
        drawn = generating.interpolate(model_id or None, seed_a=seed_a, seed_b=seed_b, class_a=class_a,
                                       class_b=class_b, steps=steps, store=visitor_store())
    except ModelNotFoundError as exc:
        raise _no_generator(exc, model_id) from None
    return shown(drawn, resample)


def model_update(current: str | None = None):
    """The generator picker, refreshed (a new model from the Train tab appears within the models timer's tick)."""
    choices = generator_choices()
    value = current if current in {c[1] for c in choices} else default_generator()
    return gr.update(choices=choices, value=value)


def on_model(model_id: str | None, class_name, class_a, class_b):
    """A generator picked: its classes in the class pickers (a class it also draws is kept), and its size."""
    classes = class_choices(model_id)

    def keep(value):
        return gr.update(choices=classes, value=value if value in classes else (classes[0] if classes else None))

    return keep(class_name), keep(class_a), keep(class_b), size_note(model_id)


def wire_draw(d: DrawSection) -> None:
    private = {"api_visibility": "private"}
    busy = {"concurrency_limit": 2, "concurrency_id": "generate"}  # the /generate API's: one pool of two
    d.model.change(on_model, [d.model, d.class_name, d.class_a, d.class_b],
                   [d.class_name, d.class_a, d.class_b, d.size_note], **private)
    d.class_name.input(lambda c: (c, c), d.class_name, [d.class_a, d.class_b], **private, queue=False)
    drawn, walked = [d.gallery, d.seen, d.table], [d.walk_gallery, d.walk_seen, d.walk_table]
    d.draw.click(draw_pictures, [d.model, d.class_name, d.seed, d.n, d.resample], drawn, **private, **busy)
    d.walk.click(walk_pictures, [d.model, d.seed_a, d.seed_b, d.class_a, d.class_b, d.steps, d.resample], walked,
                 **private, **busy)
    d.resample.input(draw_pictures, [d.model, d.class_name, d.seed, d.n, d.resample], drawn, **private, **busy)


# ---------------------------------------------------------------- wiring

def wire(t: GenerateTab) -> None:
    if t.drawing is not None:
        wire_draw(t.drawing)
    settings = [t.shape, t.d_lr, t.g_lr, t.d_steps, t.noise, t.seed]
    drawn = [t.field, t.losses, t.coverage, t.quality]
    fresh = [t.game, t.playing, t.timer, t.play, t.step, t.status, *drawn]
    private = {"api_visibility": "private"}
    # Every game's steps share the server's two cores: a few at a time, each tick short.
    busy = {"concurrency_limit": limits.GAN2D_CONCURRENCY, "concurrency_id": "gan2d"}
    t.reset.click(new_game, settings, fresh, **private, **busy)
    # A typed number counts when it leaves its box (Enter, or a click elsewhere), not at each keystroke ("0." of
    # "0.005" is no learning rate); a box left unchanged keeps the game (apply_settings).
    for box in (t.d_lr, t.g_lr, t.seed):
        for event in (box.submit, box.blur):
            event(apply_settings, [t.game, *settings], fresh, **private, **busy)
    for box in (t.shape, t.d_steps, t.noise):
        box.input(apply_settings, [t.game, *settings], fresh, **private, **busy, trigger_mode="always_last")
    t.preset.input(pick_preset, t.preset, [t.d_lr, t.g_lr, t.d_steps, t.preset_says], **private, queue=False).then(
        apply_settings, [t.game, *settings], fresh, **private, **busy)
    t.play.click(toggle, [t.game, t.playing, *settings], [t.game, t.playing, t.timer, t.play, t.status],
                 **private, **busy)
    t.step.click(step_once, [t.game, *settings], fresh, **private, **busy)

    keys = {"game": t.game, "playing": t.playing, "timer": t.timer, "play": t.play, "status": t.status}

    def on_tick(*args):
        out = tick(*args)
        if out is None:  # a tick that was already on its way when Pause was pressed
            return {t.playing: False}
        changed, (field, losses, coverage, quality) = out
        return {**{keys[k]: v for k, v in changed.items()}, t.field: field, t.losses: losses, t.coverage: coverage,
                t.quality: quality}

    t.timer.tick(on_tick, [t.game, t.playing, *settings], [*keys.values(), *drawn], show_progress="hidden",
                 **private, **busy)
    gr.api(user_errors(run_game), api_name="gan2d", concurrency_limit=1, concurrency_id="gan2d-api")
