"""Singer tap for CleverTap's counts API."""

__version__ = "0.2.0"
