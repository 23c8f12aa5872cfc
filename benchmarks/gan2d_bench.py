"""How long the Generate tab's 2-D game takes to converge visibly on this CPU (issue 26: "within 30 s").

Plays each shape as Play does (ticks of limits.GAN2D_ROUNDS_PER_TICK rounds, each followed by everything the
page draws: the snapshot and its three Plotly figures as JSON) until the quality line says converged (every mode
covered, 80% of the points on target), and prints the ticks, the server's seconds, and the seconds a visitor
waits (a tick fires every limits.GAN2D_TICK_S, so a tick that computes faster than that waits for the next). The
collapse preset is played as long, and its modes covered are printed beside.

    flock /work/cpu.lock /work/fg.sh python benchmarks/gan2d_bench.py [--shapes ring moons grid spiral]
"""

from __future__ import annotations

import argparse
import time

from dlapp import gan2d, limits
from dlapp.ui import generate_tab


def play_until_converged(settings: gan2d.GameSettings, max_ticks: int) -> tuple[int, float, float, gan2d.Quality]:
    """(ticks, server seconds, visitor seconds, quality at the end)."""
    start = time.perf_counter()
    game = gan2d.Game(settings)
    build = time.perf_counter() - start
    server, visitor, ticks = build, build, 0
    while ticks < max_ticks:
        ticks += 1
        t0 = time.perf_counter()
        game.play(limits.GAN2D_ROUNDS_PER_TICK)
        figures = generate_tab.views(game)
        for fig in figures[:3]:
            fig.to_json()  # what Gradio sends
        spent = time.perf_counter() - t0
        server += spent
        visitor += max(spent, limits.GAN2D_TICK_S)
        q = game.quality()
        if q.modes_covered == q.modes and q.on_target >= 0.8:
            break
    return ticks, server, visitor, q


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shapes", nargs="+", default=list(gan2d.SHAPES))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--max-ticks", type=int, default=100)
    args = parser.parse_args()
    print("| shape | seed | generator steps | server s | visitor s | modes covered | on target | "
          "collapse preset: modes covered |")
    print("|---|---|---|---|---|---|---|---|")
    for shape in args.shapes:
        for seed in args.seeds:
            ticks, server, visitor, q = play_until_converged(gan2d.settings_for("balanced", shape=shape, seed=seed),
                                                             args.max_ticks)
            collapse = gan2d.Game(gan2d.settings_for("collapse", shape=shape, seed=seed))
            collapse.play(min(ticks * limits.GAN2D_ROUNDS_PER_TICK, limits.GAN2D_ROUNDS_RANGE[1]))
            c = collapse.quality()
            print(f"| {shape} | {seed} | {ticks * limits.GAN2D_ROUNDS_PER_TICK:,} | {server:.1f} | {visitor:.1f} | "
                  f"{q.modes_covered}/{q.modes} | {q.on_target:.0%} | {c.modes_covered}/{c.modes} |", flush=True)


if __name__ == "__main__":
    main()
