"""Datasets: IDX (MNIST/Fashion-MNIST) readers, the embedded MNIST digits, CIFAR-10 batches."""
