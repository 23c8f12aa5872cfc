"""The Gradio web app: a thin layer over the dlapp engine. Only this package imports gradio."""

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # a demo should not phone home

from .app import build_app, launch  # noqa: E402

__all__ = ["build_app", "launch"]
