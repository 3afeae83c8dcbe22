"""The simulated home: devices on a real broker, their physics, synthetic homes and the test bed.

Speaks every protocol from the device side. May import `home`, `adapters`, `mqtt` and the
state mirror and executor (for the test bed); never `planning`, `scenarios` or `surfaces`.
"""
