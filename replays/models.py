"""Models of the replays app."""
