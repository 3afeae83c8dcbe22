"""MQTT: the resilient connection every part uses, and brokers to run (a private mosquitto, an embedded one).

May import `sasha.errors` only; it knows topics and payloads, never devices or requests.
"""
