"""The display & input executor: the `Display` gRPC service for one X display."""
