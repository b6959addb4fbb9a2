"""ONNX files: ``importer`` (``load_onnx``), ``exporter`` (``to_onnx``), ``qonnx`` (``to_qonnx``)."""
