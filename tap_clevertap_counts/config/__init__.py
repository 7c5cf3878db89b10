"""The config as the tap reads it: settings, queries, values, and the periods granularities mean."""
