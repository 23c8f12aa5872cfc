"""The whole web app: layout first (tabs), then wiring, then launch."""

from __future__ import annotations

import gc
import logging
import tempfile
import threading
from pathlib import Path

import gradio as gr

from .. import budget, inference, limits
from .. import settings as settings_mod
from ..collection import expire_collections
from ..devices import describe_device
from ..samples import export_example_images
from ..store import get_store
from . import api, generate_tab, image_tab, models_tab, plots, text_tab, train_tab
from .common import default_model, picker_update, session_of, visitor_store

log = logging.getLogger(__name__)

CSS = """
#train-status p { margin: 0.2em 0; }
.dlapp-caption p { margin: 0; }
/* A confusion matrix keeps cells wide enough for its numbers at the chart's font size: a phone scrolls it. */
.dlapp-cells { overflow-x: auto; }
.dlapp-cells .js-plotly-plot { min-width: 460px; }
#review-sentences th .header { white-space: nowrap !important; word-break: normal !important; }
/* Gradio's gallery scrolls inside a box of fixed height, which hid the later feature-map stages. */
#image-stages .grid-wrap { height: auto !important; max-height: none !important; overflow: visible !important; }
/* Generated pictures: the enlargement's pixels stay squares (nearest), not the browser's smoothing of them. */
#gen-gallery img, #gen-walk-gallery img, #train-preview img { image-rendering: pixelated; }
/* Gradio's gallery keeps 450 px of height under two rows of small pictures. */
#gen-gallery .fixed-height, #gen-walk-gallery .fixed-height { min-height: 0 !important; }
/* Gradio's gallery keeps columns at least 100 px wide, which overflows a phone: thumbnails may shrink. */
@media (max-width: 640px) {
  #gen-gallery .grid-container, #gen-walk-gallery .grid-container {
    grid-template-columns: repeat(4, minmax(0, 1fr)) !important; }
  #collect-gallery .grid-container { grid-template-columns: repeat(3, minmax(0, 1fr)) !important; }
  #image-stages .grid-container { grid-template-columns: minmax(0, 1fr) !important; }
}
"""

# Gradio lists every error of a page in one toast, so three clicks on the same bad picture showed
# its sentence three times, under "Error (3)". Each sentence is shown once (the items are only
# hidden: Gradio's own code still owns and removes them).
def both_scripts(*scripts: str) -> str:
    """One page-load script running each of `scripts` (launch takes a single `() => {...}`)."""
    return "() => {\n" + "\n".join(f"  ({js.strip()})();" for js in scripts) + "\n}"


ONE_TOAST_PER_MESSAGE = """
() => {
  const tidy = () => {
    for (const body of document.querySelectorAll('.toast-body')) {
      const seen = new Set();
      const items = [...body.querySelectorAll('.toast-message-item')];
      for (const item of items) {
        const text = item.textContent.trim();
        item.style.display = seen.has(text) ? 'none' : '';
        seen.add(text);
      }
      for (const line of body.querySelectorAll('.toast-separator')) {
        const before = line.previousElementSibling, after = items.slice(items.indexOf(before) + 1);
        line.style.display = before?.style.display !== 'none' && after.some(i => i.style.display !== 'none')
          ? '' : 'none';
      }
      const count = body.querySelector('.toast-count');
      if (count) count.style.display = seen.size === items.length ? '' : 'none';
    }
  };
  new MutationObserver(tidy).observe(document.body, {childList: true, subtree: true, characterData: true});
}
"""


def _header(settings: settings_mod.Settings) -> str:
    where = "this machine"
    if settings.space_id:
        from ..hub import space_hardware

        hw = settings.space_hardware or space_hardware(settings.space_id)
        hardware = f" ({hw})" if hw else ""
        where = f"Hugging Face Space `{settings.space_id}`{hardware}"
    return ("# dlapp\nClassify photos with a Keras **CNN**, judge movie reviews with a Keras **LSTM**, "
            f"and train both right here. Running on {where} · {describe_device()}.")


def build_app(examples_dir: Path | None = None) -> gr.Blocks:
    """Build the Blocks app. Reads settings and the model cache; trains nothing, downloads nothing."""
    settings = settings_mod.load()
    store = get_store(settings.model_dir)
    store.clean_temp_files()
    expire_collections()  # visitors' sample collections left by a crash (a closed tab removes its own)
    budget.sweep()  # start-up: stale uploads, idle collections and checkpoints of killed runs go first
    if settings.hub_models:
        from ..hub import pull_configured

        pull_configured(settings.hub_models, store=store)  # failures are logged; the app starts anyway
    examples_dir = examples_dir or Path(tempfile.mkdtemp(prefix="dlapp-examples-"))
    prefer = None
    if (image_default := default_model("image")) is not None:
        prefer = store.card(image_default).dataset.name
    example_paths = export_example_images(examples_dir, prefer)

    # Gradio keeps every upload (its route needs no password) until this removes it; the budget's sweeper
    # (launch) also counts these files, so a flood is removed sooner than this age.
    with gr.Blocks(title="dlapp: deep learning in your browser",
                   delete_cache=(limits.GRADIO_CACHE_SWEEP_S, limits.GRADIO_CACHE_AGE_S)) as demo:
        gr.Markdown(_header(settings))
        with gr.Tabs() as tabs:
            with gr.Tab("Image", id="image"):
                img = image_tab.layout(example_paths)
            with gr.Tab("Sentiment", id="sentiment"):
                txt = text_tab.layout()
            with gr.Tab("Train", id="train"):
                trn = train_tab.layout()
            with gr.Tab("Models", id="models"):
                mdl = models_tab.layout()
            with gr.Tab("Generate", id="generate"):
                gen = generate_tab.layout()
        models_seen = gr.State(visitor_store().signature())
        models_timer = gr.Timer(3.0)  # every tab of every visitor sees new, replaced and deleted models

        # ------------------------------------------------ wiring
        api.register()  # first, so the typed endpoints own their names (buttons reuse the functions privately)
        image_tab.wire(img)
        text_tab.wire(txt)
        train_tab.wire(trn)
        train_tab.wire_teach(trn, img.teach, tabs)  # the Image tab's "none of these" note -> the collection builder
        models_tab.wire(mdl)
        generate_tab.wire(gen)

        def refresh_pickers(image_model, text_model, selected, seen, gen_model):
            """Update the pickers and the Models table only when the cache changed."""
            now = visitor_store().signature()
            if now == seen:
                return {models_seen: seen}  # nothing changed (Gradio needs at least one key)
            return {img.model: picker_update("image", image_model), txt.model: picker_update("text", text_model),
                    **models_tab.refresh(mdl, selected), models_seen: now,
                    gen.drawing.model: generate_tab.model_update(gen_model)}  # a generator just trained: usable now

        # A page (re)load gets the current defaults, not the ones of server start.
        demo.load(lambda: {img.model: picker_update("image"), txt.model: picker_update("text")}, None,
                  [img.model, txt.model], api_visibility="private", queue=False)
        models_timer.tick(refresh_pickers, [img.model, txt.model, mdl.selected, models_seen, gen.drawing.model],
                          [img.model, txt.model, mdl.table, mdl.selected, mdl.card, mdl.summary, mdl.confusion,
                           mdl.reliability, mdl.cell_title, mdl.cell_images, mdl.cell_reviews, models_seen,
                           gen.drawing.model],
                          show_progress="hidden", api_visibility="private", queue=False)
        demo.unload(end_session)  # a closed tab, or a gradio_client Client closed: its own files go now
    demo.examples_dir = examples_dir
    budget.watch_files("gradio", lambda: _gradio_files(demo))
    return demo


def end_session(request: gr.Request = None) -> None:  # type: ignore[assignment]
    """A visitor's session has ended: leave the queue, stop their run, then remove their collection and their
    private models (after the run's thread has let go of their folder). Sessions that never end (a Client
    left open) are removed after limits.SESSION_MAX_IDLE_S by the storage budget."""
    from ..jobs import get_manager
    from ..store import drop_session, session_folder

    session = session_of(request)
    if session is None:
        return
    from . import collect

    collect.forget(session)
    folder = session_folder(get_store().root, session)

    def remove() -> None:
        drop_session(session)
        inference.forget(str(folder))

    get_manager().forget(session, then=remove)


def _gradio_files(demo: gr.Blocks) -> list[str]:
    """The files Gradio's cache holds for this app (uploads, outputs), less those it keeps for good (examples)."""
    kept = set().union(*(getattr(b, "keep_in_cache", set()) for b in list(demo.blocks.values())))
    return [f for files in list(demo.temp_file_sets) for f in list(files) if f not in kept]


def settle_heap() -> None:
    """Freeze what lives as long as the server (Gradio, TensorFlow, the app's blocks), then turn the GC on.

    app.py turns the cyclic GC off before these load: they are half a million objects, and each full collection
    while they loaded rescanned all of them (about a dozen, seconds of start-up with the GIL held). Frozen, no
    later collection scans them: a pause of the GC is a pause of every visitor's request.
    """
    gc.freeze()
    gc.enable()


def launch(**overrides) -> None:
    """Serve the app as configured by the environment (see dlapp/settings.py)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = settings_mod.load()
    demo = build_app()
    settle_heap()
    # Default models load and compile while the server starts, not in the first visitors' requests.
    threading.Thread(target=inference.warm_up, name="warm-up", daemon=True).start()
    budget.start_sweeper()  # also the bound on Gradio's upload route, which runs none of dlapp's code
    # Two cores: a few predictions at once keep latency low; the queue absorbs bursts.
    demo.queue(default_concurrency_limit=4, max_size=256)
    demo.launch(
        server_name=settings.server_name,
        server_port=settings.server_port,
        max_file_size=f"{settings.max_upload_mb}mb",
        allowed_paths=[str(demo.examples_dir)],
        show_error=True,
        footer_links=["api"],
        css=CSS,
        js=both_scripts(ONE_TOAST_PER_MESSAGE, plots.CLICK_JS),  # repeated toasts; confusion-cell clicks
        **overrides,
    )
