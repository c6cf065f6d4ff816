"""simlab: closed-loop simulation of engagement-optimising recommenders and opinion dynamics."""

__version__ = "0.1.0"
