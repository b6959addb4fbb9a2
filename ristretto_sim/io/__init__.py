"""File formats: reading and writing networks, plans and weights (above ``graph``, beside ``runtime``).

``onnx`` (import, export, QONNX export), ``caffe`` (protobuf wire and text format, the Caffe schema, the
importer, prototxt and caffemodel export, Ristretto's ``quantization_param``), ``weights`` (the integer codes of
quantized weights, the packed weights file, the C header). Nothing here runs a network.
"""
