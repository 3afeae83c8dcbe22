"""The simulated devices announce themselves like real ones: pure builders of discovery messages.

Home Assistant MQTT discovery for `homeassistant` devices, the retained
`<base>/bridge/devices` list for `zigbee2mqtt` devices, and Tasmota's own discovery for
`tasmota` devices. Every topic and word comes from the device's own adapter, so what is
announced is exactly what the simulated device speaks.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from sasha.adapters import Message
from sasha.adapters import homeassistant as ha
from sasha.adapters import zigbee2mqtt as z2m
from sasha.adapters._convert import kelvin_to_mireds
from sasha.home.capabilities import Value
from sasha.home.inventory import Availability, Device, DeviceType, Inventory
from sasha.home.protocols import Protocol

HA_PREFIX = "homeassistant"
HA_STATUS = f"{HA_PREFIX}/status"  # Home Assistant's birth message: announce again when it says online
NODE = "sasha_sim"
_SENSOR_CLASSES = {
    "temperature": ("temperature", "°C"),
    "humidity": ("humidity", "%"),
    "illuminance": ("illuminance", "lx"),
    "co2": ("carbon_dioxide", "ppm"),
    "power_usage": ("power", "W"),
    "energy": ("energy", "kWh"),
    "battery": ("battery", "%"),
}
_BINARY_CLASSES = {
    "motion": "motion",
    "occupancy": "occupancy",
    "smoke": "smoke",
    "leak": "moisture",
    "contact": "door",
}
_CLIMATE = frozenset({"target_temperature", "hvac_mode"})
_Z2M_BINARY = {
    "motion": "occupancy",
    "occupancy": "presence",
    "contact": "contact",
    "leak": "water_leak",
    "smoke": "smoke",
}
_Z2M_UNITS = {
    "temperature": "°C",
    "humidity": "%",
    "illuminance": "lx",
    "co2": "ppm",
    "power_usage": "W",
    "energy": "kWh",
    "battery": "%",
}
_Z2M_KINDS = {"light": "light", "lock": "lock", "cover": "cover", "garage_door": "cover", "fan": "fan"}
_TASMOTA_SENSORS = {
    "temperature": "Temperature",
    "humidity": "Humidity",
    "illuminance": "Illuminance",
    "co2": "CarbonDioxide",
}
_TASMOTA_ENERGY = {"power_usage": "Power", "energy": "Total"}


def announcements(home: Inventory, state: Mapping[str, Mapping[str, Value]]) -> tuple[list[Message], list[str]]:
    """Return every retained discovery message of a home, and why some capabilities are not announced."""
    messages: list[Message] = []
    unannounced: list[str] = []
    zigbee: dict[str, list[Device]] = {}
    for device in home.devices.values():
        if device.protocol is Protocol.HOMEASSISTANT:
            found, missing = home_assistant(device, home.rooms[device.room].name)
            messages += found
            unannounced += [f"{device.id}.{name}: {why}" for name, why in missing.items()]
        elif device.protocol is Protocol.ZIGBEE2MQTT:
            zigbee.setdefault(device.topic.split("/", 1)[0], []).append(device)
        elif device.protocol is Protocol.TASMOTA:
            messages += tasmota(device, state.get(device.id, {}))
        else:
            unannounced.append(f"{device.id}: generic devices do not announce themselves")
    for base, devices in zigbee.items():
        entries = [_z2m_coordinator()]
        for device in devices:
            entry, missing = z2m_device(device, base)
            entries.append(entry)
            unannounced += [f"{device.id}.{name}: {why}" for name, why in missing.items()]
        messages.append(Message(f"{base}/bridge/devices", json.dumps(entries).encode(), retain=True))
    return messages, unannounced


# --- Home Assistant --------------------------------------------------------------------


def _short(device: Device, topic: str) -> str:
    """Write a topic under the device's own topic with `~`, as firmwares do to keep configs small."""
    return "~" + topic[len(device.topic) :] if topic.startswith(device.topic + "/") else topic


_Entity = tuple[str, str, dict[str, Any]]  # component, object id, config


def _field(device: Device, name: str, command_key: str | None, state_key: str) -> dict[str, Any]:
    out = {state_key: _short(device, ha.field_state_topic(device, name))}
    if command_key is not None:
        out[command_key] = _short(device, ha.field_command_topic(device, name))
    return out


def _main(device: Device) -> dict[str, Any]:
    command, state = ha.main_topics(device)
    return {"cmd_t": _short(device, command), "stat_t": _short(device, state)}


def _ha_light(device: Device) -> dict[str, Any]:
    caps = device.capabilities
    cfg = _main(device)
    if device.light_schema == "default":
        on, off, _, _ = ha.words(device, "power")
        cfg |= {"pl_on": on, "pl_off": off}
        for name, prefix in (("brightness", "bri"), ("color_temp", "clr_temp"), ("color", "rgb")):
            if name in caps:
                cfg |= _field(device, name, f"{prefix}_cmd_t", f"{prefix}_stat_t")
    else:
        modes = [m for m, c in (("color_temp", "color_temp"), ("rgb", "color")) if c in caps]
        cfg["schema"] = "json"
        cfg["sup_clrm"] = modes or (["brightness"] if "brightness" in caps else ["onoff"])
        # Home Assistant 2024.x refuses `supported_color_modes` without `color_mode: true` (one
        # inclusion group); later releases drop the key as an unknown extra.
        cfg["color_mode"] = True
        cfg["brightness"] = "brightness" in caps
    scale = device.wire.get("brightness")
    if scale is not None and scale.scale is not None:
        cfg["bri_scl"] = scale.scale
    if "color_temp" in caps:
        low, high = caps["color_temp"].min or 2200, caps["color_temp"].max or 6500
        cfg |= {"min_mirs": kelvin_to_mireds(high), "max_mirs": kelvin_to_mireds(low)}
    return cfg


def _ha_power(device: Device) -> tuple[_Entity, set[str]]:
    on, off, state_on, state_off = ha.words(device, "power")
    cfg = _main(device)
    if device.type is DeviceType.FAN:
        cfg |= {"pl_on": on, "pl_off": off}
        if "fan_speed" in device.capabilities:
            cfg |= _field(device, "fan_speed", "pct_cmd_t", "pct_stat_t")
            return ("fan", device.id, cfg), {"power", "fan_speed"}
        return ("fan", device.id, cfg), {"power"}
    if device.type is DeviceType.WATER_VALVE:
        cfg |= {"pl_open": on, "pl_cls": off, "stat_open": state_on, "stat_clsd": state_off}
        return ("valve", device.id, cfg), {"power"}
    cfg |= {"pl_on": on, "pl_off": off, "stat_on": state_on, "stat_off": state_off}
    if device.type is DeviceType.PLUG:
        cfg["dev_cla"] = "outlet"
    object_id = f"{device.id}_power" if device.capabilities.keys() & _CLIMATE else device.id
    return ("switch", object_id, cfg), {"power"}


def _ha_climate(device: Device) -> tuple[_Entity, set[str]]:
    caps = device.capabilities
    cfg: dict[str, Any] = {}
    if "target_temperature" in caps:
        target = caps["target_temperature"]
        cfg |= _field(device, "target_temperature", "temp_cmd_t", "temp_stat_t")
        cfg |= {"min_temp": target.min, "max_temp": target.max, "temp_step": target.step, "temp_unit": "C"}
    if "hvac_mode" in caps:
        cfg |= _field(device, "hvac_mode", "mode_cmd_t", "mode_stat_t") | {"modes": list(caps["hvac_mode"].values)}
    done = set(_CLIMATE & caps.keys())
    if "temperature" in caps:
        cfg["curr_temp_t"] = _short(device, ha.field_state_topic(device, "temperature"))
        done.add("temperature")
    return ("climate", device.id, cfg), done


def _ha_sensor(device: Device, name: str) -> _Entity | None:
    if name in _SENSOR_CLASSES:
        device_class, unit = _SENSOR_CLASSES[name]
        cfg = _field(device, name, None, "stat_t") | {"dev_cla": device_class, "unit_of_meas": unit}
        return "sensor", f"{device.id}_{name}", cfg
    if name in _BINARY_CLASSES:
        _, _, state_on, state_off = ha.words(device, name)
        cfg = _field(device, name, None, "stat_t") | {"dev_cla": _BINARY_CLASSES[name]}
        # HA's door sensor is "on" when open; Sasha's contact is true when closed.
        on, off = (state_off, state_on) if name == "contact" else (state_on, state_off)
        return "binary_sensor", f"{device.id}_{name}", cfg | {"pl_on": on, "pl_off": off}
    return None


def home_assistant(device: Device, area: str) -> tuple[list[Message], dict[str, str]]:
    """Return the discovery configs of one homeassistant device, and the capabilities left out."""
    caps = device.capabilities
    if device.type is DeviceType.MEDIA_PLAYER:
        # A media player is announced whole or not at all: its power alone would mislead.
        return [], dict.fromkeys(caps, "Home Assistant's MQTT integration has no media players")
    entities: list[_Entity] = []
    done: set[str] = set()
    if device.type is DeviceType.LIGHT:
        entities.append(("light", device.id, _ha_light(device)))
        done |= {"power", "brightness", "color_temp", "color"} & caps.keys()
    if "lock" in caps:
        on, off, state_on, state_off = ha.words(device, "lock")
        cfg = _main(device) | {"pl_lock": on, "pl_unlk": off, "stat_locked": state_on, "stat_unlocked": state_off}
        entities.append(("lock", device.id, cfg))
        done.add("lock")
    if "power" in caps and "power" not in done:
        entity, names = _ha_power(device)
        entities.append(entity)
        done |= names
    if "position" in caps:
        cfg = _field(device, "position", "set_pos_t", "pos_t")
        if device.type is DeviceType.GARAGE_DOOR:
            cfg["dev_cla"] = "garage"
        entities.append(("cover", device.id, cfg))
        done.add("position")
    if caps.keys() & _CLIMATE:
        entity, names = _ha_climate(device)
        entities.append(entity)
        done |= names
    missing: dict[str, str] = {}
    for name in caps.keys() - done:
        sensor = _ha_sensor(device, name)
        if sensor is None:
            missing[name] = f"no Home Assistant entity carries {name} for a {device.type.value}"
        else:
            entities.append(sensor)
    dev = {
        "ids": [f"sasha_{device.id}"],
        "name": device.name,
        "mf": "Sasha",
        "mdl": f"simulated {device.type.value}",
        "sa": area,
    }
    messages = []
    for index, (component, object_id, cfg) in enumerate(entities):
        body: dict[str, Any] = {
            "~": device.topic,
            "name": None if index == 0 else _label(object_id, device.id),
            "uniq_id": f"sasha_{object_id}",
        }
        body |= cfg | {"dev": dev}
        if device.availability:
            body["avty"] = [_availability(device, spec) for spec in device.availability]
        topic = f"{HA_PREFIX}/{component}/{NODE}/{object_id}/config"
        messages.append(Message(topic, json.dumps(body).encode(), retain=True))
    return messages, missing


def _availability(device: Device, spec: Availability) -> dict[str, Any]:
    """Announce one availability topic the way HA's `availability` list abbreviates it."""
    entry: dict[str, Any] = {"t": _short(device, spec.topic)}
    if spec.payload_available != "online":
        entry["pl_avail"] = spec.payload_available
    if spec.payload_not_available != "offline":
        entry["pl_not_avail"] = spec.payload_not_available
    if spec.key is not None:
        entry["val_tpl"] = f"{{{{ value_json.{spec.key} }}}}"
    return entry


def _label(object_id: str, device_id: str) -> str:
    rest = object_id[len(device_id) :].strip("_") or object_id
    return rest.replace("_", " ").capitalize()


# --- zigbee2mqtt -----------------------------------------------------------------------


def _ieee(text: str) -> str:
    return "0x" + hashlib.sha256(text.encode()).hexdigest()[:16]


def _z2m_coordinator() -> dict[str, Any]:
    return {
        "ieee_address": _ieee("coordinator"),
        "type": "Coordinator",
        "network_address": 0,
        "supported": True,
        "friendly_name": "Coordinator",
        "disabled": False,
        "definition": None,
        "interview_completed": True,
    }


def _numeric(prop: str, access: int, **extra: Any) -> dict[str, Any]:
    return {"type": "numeric", "name": prop, "property": prop, "access": access} | extra


def z2m_device(device: Device, base: str) -> tuple[dict[str, Any], dict[str, str]]:
    """Return one entry of `<base>/bridge/devices` for a zigbee2mqtt device, and the capabilities left out."""
    caps = device.capabilities
    missing: dict[str, str] = {}
    exposes: list[dict[str, Any]] = []
    features: list[dict[str, Any]] = []

    def key(name: str) -> str:
        return z2m.property_name(device, name)

    if "power" in caps:
        features.append(
            {
                "type": "binary",
                "name": "state",
                "property": key("power"),
                "access": 7,
                "value_on": "ON",
                "value_off": "OFF",
                "value_toggle": "TOGGLE",
            }
        )
    if "brightness" in caps:
        features.append(_numeric(key("brightness"), 7, value_min=0, value_max=254))
    if "color_temp" in caps:
        low, high = caps["color_temp"].min or 2200, caps["color_temp"].max or 6500
        features.append(
            _numeric(
                key("color_temp"), 7, unit="mired", value_min=kelvin_to_mireds(high), value_max=kelvin_to_mireds(low)
            )
        )
    if "color" in caps:
        features.append(
            {
                "type": "composite",
                "name": "color_xy",
                "property": "color",
                "access": 7,
                "features": [_numeric("x", 7), _numeric("y", 7)],
            }
        )
    if "lock" in caps:
        features += [
            {
                "type": "binary",
                "name": "state",
                "property": key("lock"),
                "access": 7,
                "value_on": "LOCK",
                "value_off": "UNLOCK",
            },
            {
                "type": "enum",
                "name": "lock_state",
                "property": "lock_state",
                "access": 1,
                "values": ["not_fully_locked", "locked", "unlocked"],
            },
        ]
    if "position" in caps:
        features += [
            {"type": "enum", "name": "state", "property": "state", "access": 3, "values": ["OPEN", "CLOSE", "STOP"]},
            _numeric(key("position"), 7, value_min=0, value_max=100, unit="%"),
        ]
    if features:
        kind = _Z2M_KINDS.get(device.type.value, "switch")
        if "lock" in caps:
            kind = "lock"
        exposes.append({"type": kind, "features": features})
    climate = []
    if "target_temperature" in caps:
        target = caps["target_temperature"]
        climate.append(
            _numeric(
                key("target_temperature"),
                7,
                value_min=target.min,
                value_max=target.max,
                value_step=target.step,
                unit="°C",
            )
        )
    if "hvac_mode" in caps:
        climate.append(
            {
                "type": "enum",
                "name": "system_mode",
                "property": key("hvac_mode"),
                "access": 7,
                "values": list(caps["hvac_mode"].values),
            }
        )
    if climate:
        exposes.append({"type": "climate", "features": climate})
    for name in caps:
        if name in _Z2M_BINARY:
            exposes.append(
                {
                    "type": "binary",
                    "name": key(name),
                    "property": key(name),
                    "access": 1,
                    "value_on": True,
                    "value_off": False,
                }
            )
        elif name in _Z2M_UNITS:
            exposes.append(_numeric(key(name), 1, unit=_Z2M_UNITS[name]))
        elif name in ("fan_speed", "volume"):
            exposes.append(_numeric(key(name), 7, value_min=0, value_max=100, unit="%"))
        elif name not in (
            "power",
            "brightness",
            "color_temp",
            "color",
            "lock",
            "position",
            "target_temperature",
            "hvac_mode",
        ):
            missing[name] = "no zigbee2mqtt expose for it"
    words = device.type.value.replace("_", " ")
    entry = {
        "ieee_address": _ieee(device.topic),
        "type": "EndDevice" if device.type is DeviceType.SENSOR else "Router",
        "network_address": int(_ieee(device.topic)[2:6], 16),
        "supported": True,
        "friendly_name": device.topic[len(base) + 1 :],
        "disabled": False,
        "description": device.description or None,
        "definition": {
            "model": f"SIM-{device.type.value.upper()}",
            "vendor": "Sasha",
            "description": f"Simulated {words}",
            "exposes": exposes,
            "options": [],
        },
        "power_source": "Battery" if "battery" in caps else "Mains (single phase)",
        "interview_completed": True,
    }
    return entry, missing


# --- Tasmota ---------------------------------------------------------------------------


def tasmota(device: Device, values: Mapping[str, Value]) -> list[Message]:
    """Return the retained `tasmota/discovery/<mac>/config` and `.../sensors` of a tasmota device."""
    caps = device.capabilities
    mac = hashlib.sha256(device.topic.encode()).hexdigest()[:12].upper()
    light = bool(caps.keys() & {"brightness", "color_temp", "color"})
    relay = 2 if light else 1 if "power" in caps else 3 if "position" in caps else 0
    color, ct = "color" in caps, "color_temp" in caps
    subtype = (5 if color and ct else 3 if color else 2 if ct else 1) if light else 0
    config = {
        "ip": "127.0.0.1",
        "dn": device.name,
        "fn": [device.name] + [None] * 7,
        "hn": device.topic.replace("_", "-"),
        "mac": mac,
        "md": "Sasha simulator",
        "ty": 0,
        "if": 0,
        "ofln": "Offline",
        "onln": "Online",
        "state": ["OFF", "ON", "TOGGLE", "HOLD"],
        "sw": "14.0.0",
        "t": device.topic,
        "ft": "%prefix%/%topic%/",
        "tp": ["cmnd", "stat", "tele"],
        "rl": [relay, 0, 0, 0, 0, 0, 0, 0],
        "swc": [-1] * 8,
        "swn": [None] * 8,
        "btn": [0] * 8,
        "so": {"4": 0, "11": 0, "13": 0, "17": 0, "20": 0, "30": 0, "68": 0, "73": 0, "82": 0, "114": 0, "117": 0},
        "lk": 1 if light else 0,
        "lt_st": subtype,
        "sho": [0, 0, 0, 0],
        "ver": 1,
    }
    readings: dict[str, Any] = {}
    for name, value in values.items():
        if name in _TASMOTA_SENSORS:
            readings.setdefault("SIM", {})[_TASMOTA_SENSORS[name]] = value
        elif name in _TASMOTA_ENERGY:
            readings.setdefault("ENERGY", {})[_TASMOTA_ENERGY[name]] = value
    root = f"tasmota/discovery/{mac}"
    return [
        Message(f"{root}/config", json.dumps(config).encode(), retain=True),
        Message(f"{root}/sensors", json.dumps({"sn": readings, "ver": 1}).encode(), retain=True),
    ]
