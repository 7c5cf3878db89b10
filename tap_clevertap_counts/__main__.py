"""`python -m tap_clevertap_counts` is the tap's CLI."""

from .cli import main

main()
