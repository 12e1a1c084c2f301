"""Request-body schemas per microversion (JSON Schema; upstream's contract)."""
