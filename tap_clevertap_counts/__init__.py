"""Singer tap for CleverTap's counts API."""

__version__ = "0.1.0"
