"""Why a model answers as it does: Grad-CAM, feature maps and the layer table for images
(explain/image.py); word attributions and the reading trajectory for reviews (explain/text.py).
Engine code: no gradio. The UI, the API and `python -m dlapp explain` all call these."""
