"""mrstnet: the Mutually Reinforced Spatio-Temporal Convolutional Tube (IJCAI 2019) in PyTorch."""

__version__ = "0.1.0"
