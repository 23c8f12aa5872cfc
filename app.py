"""dlapp web app. Run: python app.py (serves on 0.0.0.0:7860; see README)."""

from dlapp.ui import launch

if __name__ == "__main__":
    launch()
