"""The Caffe layer type names the importer groups (Ristretto's own types beside Caffe's), and the sizes it assumes
where a prototxt does not say."""

CONV_TYPES = ("Convolution", "ConvolutionRistretto")
DECONV_TYPES = ("Deconvolution", "DeconvolutionRistretto")
FC_TYPES = ("InnerProduct", "FcRistretto")
LRN_TYPES = ("LRN", "LRNRistretto")
RISTRETTO_TYPES = ("ConvolutionRistretto", "FcRistretto", "LRNRistretto", "DeconvolutionRistretto")
INPUT_TYPES = ("Data", "Input", "MemoryData", "ImageData", "DummyData", "HDF5Data", "WindowData")
HEAD_TYPES = ("Accuracy", "SoftmaxWithLoss", "EuclideanLoss", "SigmoidCrossEntropyLoss", "HingeLoss",
              "MultinomialLogisticLoss", "InfogainLoss", "ContrastiveLoss", "Silence")
ALIAS_TYPES = ("Split", "Dropout")

#: the most zero weights a structure-only import (no caffemodel) makes for one blob: 2**28 float32 values (1 GiB),
#: over twice VGG-16's fc6, so a mistyped num_output fails instead of allocating terabytes
MAX_ZERO_BLOB = 1 << 28

#: per-sample input shapes of Caffe's example data sources, used when a Data layer gives no shape
SOURCE_HINTS = (("mnist", (1, 28, 28)), ("cifar", (3, 32, 32)))
