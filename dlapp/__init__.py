"""dlapp: classify images with a Keras CNN, judge reviews with a Keras LSTM, and train both.

`import dlapp` registers the custom pieces saved inside dlapp models, so
`keras.saving.load_model(path, safe_mode=True)` works on any of them.
"""

__version__ = "0.1.0"

from . import settings as _settings  # noqa: E402,F401  sets KERAS_BACKEND before Keras loads
from . import layers as _layers  # noqa: E402,F401
