"""The home model: the inventory, the capability vocabulary, protocols and value validation.

Pure data and checks, read from YAML with line numbers. May import only `sasha.errors`
and the standard library, pydantic and PyYAML: no I/O beyond reading a file, no MQTT, no model.
"""
