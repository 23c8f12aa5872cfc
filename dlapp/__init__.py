"""dlapp: classify images with a Keras CNN, judge reviews with a Keras LSTM, and train both.

Importing the package is cheap: TensorFlow loads (quietly, see backend.py) only when
a model is first built, loaded or trained. To load a dlapp model with plain Keras,
`import dlapp.layers` first: it registers the custom pieces saved inside dlapp models.
"""

__version__ = "0.1.0"
