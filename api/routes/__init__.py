"""HTTP routes: one module per area, each exposing ``router``."""
