"""The simulated home's physics: initial values and how sensors change over time.

Pure functions of (inventory, state, elapsed seconds, random source) so that tests and
scenarios can step time by hand and get the same home every time with the same seed.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping

from sasha.home.capabilities import Value
from sasha.home.inventory import Capability, Device, DeviceType, Inventory

State = dict[str, dict[str, Value]]

# Where a room's temperature drifts when nothing heats or cools it.
AMBIENT = 18.0
# Time constants (seconds) of the exponential approach to a target temperature.
_TAU_ACTIVE = 900.0
_TAU_DRIFT = 7200.0
_HEATING_MODES = ("heat", "auto")
_COOLING_MODES = ("cool", "auto")
# Typical draw (W) of what sits behind a plug that is on.
_PLUG_WATTS = {"kettle": 2000.0}
_DEFAULT_PLUG_WATTS = 80.0

_DEFAULTS: dict[str, Value] = {
    "power": "off",
    "brightness": 80,
    "color_temp": 2700,
    "color": "#ffffff",
    "target_temperature": 20,
    "fan_speed": 50,
    "position": 0,
    "lock": "locked",
    "volume": 20,
    "playback": "stopped",
    "muted": False,
    "temperature": 20.5,
    "humidity": 45.0,
    "illuminance": 250.0,
    "co2": 600.0,
    "power_usage": 0.0,
    "energy": 1.5,
    "battery": 90.0,
    "motion": False,
    "contact": True,
    "occupancy": False,
    "smoke": False,
    "leak": False,
}


def _fit(capability: Capability, value: Value) -> Value:
    if capability.values:
        return value if value in capability.values else capability.values[0]
    if isinstance(value, int | float) and not isinstance(value, bool):
        low = capability.min if capability.min is not None else value
        high = capability.max if capability.max is not None else value
        fitted = min(max(value, low), high)
        if capability.step:
            fitted = round(round(fitted / capability.step) * capability.step, 6)
        return int(fitted) if float(fitted).is_integer() else fitted
    return value


def initial_values(device: Device) -> dict[str, Value]:
    """Return the plausible state a device starts in."""
    values: dict[str, Value] = {}
    for name, capability in device.capabilities.items():
        if capability.info.write_only:
            continue  # "next track" is an event, not a state
        default = _DEFAULTS.get(name, 0)
        if name == "hvac_mode":
            default = "heat" if "heat" in capability.values else capability.values[0]
        if name == "position" and device.type is DeviceType.COVER:
            default = 100  # blinds start open; garage doors closed
        values[name] = _fit(capability, default)
    return values


def initial_state(inventory: Inventory) -> State:
    """Return the starting state of every device."""
    return {d.id: initial_values(d) for d in inventory.devices.values()}


def _approach(current: float, target: float, seconds: float, tau: float) -> float:
    return current + (target - current) * (1 - math.exp(-seconds / tau))


def _room_target(devices: list[Device], state: State, temperature: float) -> tuple[float, float]:
    """Return where a room's temperature is heading and how fast (time constant)."""
    for device in devices:
        values = state[device.id]
        target = values.get("target_temperature")
        if not isinstance(target, int | float) or isinstance(target, bool):
            continue
        mode = values.get("hvac_mode")
        powered = values.get("power", "on") == "on"
        if not powered or mode == "off":
            continue
        heating = mode in _HEATING_MODES or (mode is None and device.type is DeviceType.HEATER)
        cooling = mode in _COOLING_MODES
        if (heating and target > temperature) or (cooling and target < temperature):
            return float(target), _TAU_ACTIVE
    return AMBIENT, _TAU_DRIFT


def step(inventory: Inventory, state: State, seconds: float, rng: random.Random) -> State:
    """Advance the home by `seconds`; return only the values that changed."""
    changes: State = {}

    def change(device_id: str, name: str, value: Value) -> None:
        if state[device_id].get(name) != value:
            changes.setdefault(device_id, {})[name] = value

    for room in inventory.rooms:
        devices = inventory.in_room(room)
        sensors = [d for d in devices if "temperature" in d.capabilities]
        if sensors:
            readings = [float(state[d.id]["temperature"]) for d in sensors]
            current = sum(readings) / len(readings)
            target, tau = _room_target(devices, state, current)
            # Two decimals: coarser rounding would stall a slow approach at every step.
            new = round(_approach(current, target, seconds, tau), 2)
            for device in sensors:
                change(device.id, "temperature", new)
        fan_on = any(d.type is DeviceType.FAN and state[d.id].get("power") == "on" for d in devices)
        for device in devices:
            values = state[device.id]
            if "humidity" in device.capabilities:
                drift = rng.uniform(-0.3, 0.3) * min(seconds / 60, 10)
                goal, tau = (35.0, 600.0) if fan_on else (45.0, 3600.0)
                humidity = _approach(float(values["humidity"]), goal, seconds, tau) + drift
                change(device.id, "humidity", round(min(max(humidity, 20.0), 95.0), 1))
            for name, stay, arrive in (("motion", 60.0, 900.0), ("occupancy", 600.0, 1800.0)):
                if name in device.capabilities:
                    # Presence comes and goes at random: leaves after ~stay s, returns after ~arrive s.
                    active = bool(values[name])
                    chance = 1 - math.exp(-seconds / (stay if active else arrive))
                    if rng.random() < chance:
                        change(device.id, name, not active)
            if "power_usage" in device.capabilities:
                watts = _watts(device) if values.get("power") == "on" else 0.0
                change(device.id, "power_usage", watts)
                if "energy" in device.capabilities:
                    energy = float(values["energy"]) + watts * seconds / 3_600_000
                    change(device.id, "energy", round(energy, 4))
    return changes


def _watts(device: Device) -> float:
    for word, watts in _PLUG_WATTS.items():
        if word in device.name.lower() or word in device.id:
            return watts
    return _DEFAULT_PLUG_WATTS


def apply(state: State, changes: Mapping[str, Mapping[str, Value]]) -> None:
    """Merge changes into a state in place."""
    for device_id, values in changes.items():
        state.setdefault(device_id, {}).update(values)
