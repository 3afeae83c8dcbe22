"""Sasha: a smart-home assistant that turns goals into validated device commands over MQTT."""

__version__ = "0.1.0"
