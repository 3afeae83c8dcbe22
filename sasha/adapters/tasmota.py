"""Tasmota: `cmnd/<topic>/<Command>` with plain payloads; state from RESULT, STATE and SENSOR.

Run real devices with `StateRetain 1` and `SensorRetain 1` so their state survives a
restart of Sasha the way the simulator's does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sasha import adapters
from sasha.adapters import _convert
from sasha.errors import DecodeError
from sasha.home.capabilities import Value
from sasha.home.inventory import Device

_COMMANDS = {
    "power": "POWER",
    "brightness": "Dimmer",
    "color_temp": "CT",
    "color": "Color",
    "position": "ShutterPosition1",
}
# Tasmota's CT command only takes 153..500 mireds.
_CT_MIN, _CT_MAX = 153, 500
# Keys a SENSOR message carries under each sensor's name (e.g. {"AM2301": {"Temperature": 21}}).
SENSOR_KEYS = {
    "Temperature": "temperature",
    "Humidity": "humidity",
    "Illuminance": "illuminance",
    "CarbonDioxide": "co2",
}
ENERGY_KEYS = {"Power": "power_usage", "Total": "energy"}


class TasmotaAdapter:
    """Speak Tasmota's command topics and its RESULT / STATE / SENSOR reports."""

    def command_topics(self, device: Device) -> list[str]:
        """Return one cmnd topic per writable capability."""
        return [f"cmnd/{device.topic}/{_COMMANDS[n]}" for n in device.writable if n in _COMMANDS]

    def state_topics(self, device: Device) -> list[str]:
        """Return stat/RESULT, tele/STATE and tele/SENSOR."""
        base = device.topic
        return [f"stat/{base}/RESULT", f"tele/{base}/STATE", f"tele/{base}/SENSOR"]

    def encode_command(self, device: Device, values: Mapping[str, Value]) -> list[adapters.Message]:
        """Send one command per capability."""
        ordered = [n for n in values if n != "power"]
        # Setting Dimmer switches a Tasmota light on, so "off" must come after it;
        # "on" goes first so the light does not flash at its old level.
        if values.get("power") == "off":
            ordered.append("power")
        elif "power" in values:
            ordered.insert(0, "power")
        return [
            adapters.Message(f"cmnd/{device.topic}/{_COMMANDS[name]}", _command_payload(name, values[name]))
            for name in ordered
            if name in _COMMANDS
        ]

    def decode_state(self, device: Device, topic: str, payload: bytes) -> dict[str, Value]:
        """Read RESULT, STATE or SENSOR JSON."""
        data = _convert.json_object(payload)
        values = _device_values(data)
        if topic.endswith("/SENSOR"):
            values.update(_sensor_values(data))
        return {k: v for k, v in values.items() if k in device.capabilities}

    def decode_command(self, device: Device, topic: str, payload: bytes) -> dict[str, Value]:
        """Read one cmnd message as the device would."""
        command = topic.rsplit("/", 1)[-1]
        for name, known in _COMMANDS.items():
            if command.lower() != known.lower():
                continue
            raw = _convert.text(payload)
            if name == "power":
                word = raw.upper()
                if word not in ("ON", "OFF", "1", "0"):
                    raise DecodeError(f"POWER takes ON or OFF, got {raw[:20]!r}")
                return {"power": "on" if word in ("ON", "1") else "off"}
            if name == "color":
                return {"color": "#" + raw.lstrip("#")[:6].lower()}
            value = _convert.number(payload)
            if name == "color_temp":
                return {"color_temp": _convert.mireds_to_kelvin(max(_CT_MIN, min(_CT_MAX, value)))}
            if name == "brightness":
                # A real Tasmota light turns on when its Dimmer is set above zero.
                return {"brightness": value, "power": "on"} if value > 0 else {"brightness": value}
            return {name: value}
        raise DecodeError(f"unknown Tasmota command {command!r}")

    def encode_state(self, device: Device, values: Mapping[str, Value]) -> list[adapters.Message]:
        """Publish tele/STATE and, for sensors, tele/SENSOR, retained."""
        state: dict[str, Any] = {}
        sensors: dict[str, Any] = {}
        energy: dict[str, Any] = {}
        for name, value in values.items():
            if name == "power":
                state["POWER"] = str(value).upper()
            elif name == "brightness":
                state["Dimmer"] = value
            elif name == "color_temp":
                state["CT"] = _convert.kelvin_to_mireds(float(value))
            elif name == "color":
                state["Color"] = str(value).lstrip("#").upper()
            elif name == "position":
                state["Shutter1"] = {"Position": value}
            elif name in ENERGY_KEYS.values():
                energy[_key_for(ENERGY_KEYS, name)] = value
            else:
                sensors[_key_for(SENSOR_KEYS, name)] = value
        messages = []
        if state:
            messages.append(adapters.Message(f"tele/{device.topic}/STATE", _convert.dump(state), retain=True))
        if sensors or energy:
            report: dict[str, Any] = {}
            if sensors:
                report["SIM"] = sensors
            if energy:
                report["ENERGY"] = energy
            messages.append(adapters.Message(f"tele/{device.topic}/SENSOR", _convert.dump(report), retain=True))
        return messages


def _key_for(table: dict[str, str], name: str) -> str:
    return next(key for key, value in table.items() if value == name)


def _command_payload(name: str, value: Value) -> bytes:
    if name == "power":
        return str(value).upper().encode()
    if name == "color_temp":
        return str(max(_CT_MIN, min(_CT_MAX, _convert.kelvin_to_mireds(float(value))))).encode()
    if name == "color":
        return str(value).lstrip("#").upper().encode()
    return str(value).encode()


def _device_values(data: dict[str, Any]) -> dict[str, Value]:
    values: dict[str, Value] = {}
    power = data.get("POWER", data.get("POWER1"))
    if isinstance(power, str) and power.upper() in ("ON", "OFF"):
        values["power"] = power.lower()
    if "Dimmer" in data:
        values["brightness"] = data["Dimmer"]
    ct = data.get("CT")
    if isinstance(ct, int | float) and not isinstance(ct, bool) and ct > 0:
        values["color_temp"] = _convert.mireds_to_kelvin(ct)
    color = data.get("Color")
    if isinstance(color, str):
        # Tasmota may append white channels (RRGGBBCCWW); the first six digits are the colour.
        values["color"] = "#" + color.lstrip("#")[:6].lower()
    shutter = data.get("Shutter1")
    if isinstance(shutter, dict) and "Position" in shutter:
        values["position"] = shutter["Position"]
    return values


def _sensor_values(data: dict[str, Any]) -> dict[str, Value]:
    values: dict[str, Value] = {}
    for section, readings in data.items():
        if not isinstance(readings, dict):
            continue
        table = ENERGY_KEYS if section == "ENERGY" else SENSOR_KEYS
        for key, name in table.items():
            if key in readings:
                values[name] = readings[key]
    return values


def result_messages(device: Device, values: Mapping[str, Value]) -> list[adapters.Message]:
    """Return the firmware's answer to a command: `stat/<topic>/RESULT`, and `stat/<topic>/POWER` for power.

    Real Tasmota answers every command at once on these topics (not retained); tele/STATE
    comes only every TelePeriod.
    """
    messages = [
        adapters.Message(f"stat/{device.topic}/RESULT", message.payload)
        for message in TasmotaAdapter().encode_state(device, values)
        if message.topic.endswith("/STATE")
    ]
    if "power" in values:
        messages.append(adapters.Message(f"stat/{device.topic}/POWER", str(values["power"]).upper().encode()))
    return messages
