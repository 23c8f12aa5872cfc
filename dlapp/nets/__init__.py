"""Keras networks, one module per task. Imported only when a model is built (they load TensorFlow)."""
