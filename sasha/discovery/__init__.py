"""Discovery: an inventory from what the broker already announces (Home Assistant, zigbee2mqtt, Tasmota).

The parsers (`homeassistant`, `zigbee2mqtt`, `tasmota`), `assemble`, `merge` and `render` are pure:
announcement payloads in, inventory data and YAML text out. `listen` alone talks to the broker.
May import `home`, `adapters` and `mqtt` (for `listen`); never the request path or anything above it.
"""
