"""Idempotent kernel primitives for the real compute/network/volume drivers.

Not a service (no ``SERVICE``): plain modules that the drivers call. Every kernel object
they create carries the onestack prefix (see :mod:`onestack.dataplane.names`) so that
:mod:`onestack.dataplane.inventory` can list and clean up exactly what onestack owns.
"""
