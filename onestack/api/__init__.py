"""HTTP helpers every service shares: routing, microversions, pagination, resources."""
