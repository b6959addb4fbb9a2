"""TensorFlow Lite models: ``reader`` (the flatbuffer, through the ``tflite`` package) and ``importer`` (an int8
model as a ``Network`` with its embedded plan of affine formats)."""
