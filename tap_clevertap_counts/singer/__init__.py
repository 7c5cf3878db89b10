"""What talks Singer and the SDK: streams, messages, STATE pace, catalogs, signals."""
