"""Singer tap for CleverTap counts."""
