"""Scenario files and the runner that replays them against the real assistant and a simulated home.

Sits above everything but the surfaces: it may import any package except `surfaces`.
"""
