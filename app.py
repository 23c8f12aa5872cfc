"""dlapp web app. Run: python app.py (serves on 0.0.0.0:7860; see README)."""

import gc

gc.disable()  # while Gradio and TensorFlow load: launch() freezes them, then turns it on (ui.app.settle_heap)

from dlapp.ui import launch  # noqa: E402

if __name__ == "__main__":
    launch()
