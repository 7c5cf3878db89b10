"""Singer tap for CleverTap's counts API."""

__version__ = "0.3.0.dev0"
