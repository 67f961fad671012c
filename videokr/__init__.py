"""videokr: a data factory for knowledge- and reasoning-intensive video understanding."""

__version__ = "0.1.0"
