"""cinerec: movie recommendation from ratings logs to served top-N lists."""

__version__ = "0.1.0"
