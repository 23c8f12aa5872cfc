"""The Gradio web app: a thin layer over the dlapp engine. Only this package imports gradio."""

from .app import build_app, launch

__all__ = ["build_app", "launch"]
