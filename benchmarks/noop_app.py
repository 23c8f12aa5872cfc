"""The reference for benchmarks/load_bench.py: a minimal Gradio app with dlapp's two prediction
endpoints' shapes (image in -> label and image out; text in -> label) that does no model work.

It runs with the same Gradio version, queue settings and server as dlapp, so the gap between
the two is what dlapp adds: decoding, the models, and the preview image.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import gradio as gr
from PIL import Image

PREVIEW = Path(tempfile.mkdtemp(prefix="noop-")) / "seen.png"
Image.new("RGB", (160, 160), "gray").save(PREVIEW)
LABEL = {"cat": 0.6, "dog": 0.3, "ship": 0.1}


def classify_image(image: str | None, model: str | None):
    return LABEL, str(PREVIEW)


def analyze_sentiment(text: str, model: str | None):
    return {"positive": 0.9, "negative": 0.1}


with gr.Blocks() as demo:
    image = gr.Image(type="filepath")
    image_model = gr.Dropdown(["a"], value="a", allow_custom_value=True)
    label, seen = gr.Label(num_top_classes=5), gr.Image(type="filepath")
    text = gr.Textbox()
    text_model = gr.Dropdown(["b"], value="b", allow_custom_value=True)
    sentiment = gr.Label(num_top_classes=2)
    # The same concurrency as dlapp's prediction endpoints (dlapp.limits.PREDICT_CONCURRENCY).
    gr.Button().click(classify_image, [image, image_model], [label, seen], api_name="classify_image",
                      concurrency_limit=16)
    gr.Button().click(analyze_sentiment, [text, text_model], sentiment, api_name="analyze_sentiment",
                      concurrency_limit=16)

if __name__ == "__main__":
    demo.queue(default_concurrency_limit=4, max_size=256)  # as dlapp.ui.app.launch
    demo.launch(server_name="127.0.0.1", server_port=int(os.environ["GRADIO_SERVER_PORT"]),
                allowed_paths=[str(PREVIEW.parent)])
