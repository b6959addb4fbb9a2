"""Caffe files, in pure Python: ``wire`` (binary protobuf), ``text`` (prototxt), ``schema`` (the Caffe messages),
``importer`` (``load_caffe_model``), ``exporter`` (prototxt and Ristretto prototxt writers), ``caffemodel``
(weights writer), ``quantization`` (Ristretto's ``quantization_param``)."""
