"""Home Assistant MQTT discovery: `homeassistant/<component>/[<node>/]<object>/config` → devices.

Configs are expanded the way Home Assistant does (abbreviated keys, `~` in topics, the
abbreviated `device` block), then each entity becomes capabilities. Entities that share a
`device.identifiers` entry make one Sasha device, as in Home Assistant's device registry.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sasha.discovery.abbreviations import ABBREVIATIONS, DEVICE_ABBREVIATIONS
from sasha.discovery.found import (
    MAX_CONFIG,
    Findings,
    Found,
    Hazard,
    Sensitive,
    Skip,
    Skipped,
    nice_kelvin,
    number,
    whole,
)

PREFIX = "homeassistant"

COMPONENTS = frozenset(
    {"light", "switch", "fan", "cover", "lock", "climate", "valve", "sensor", "binary_sensor", "number", "select"}
)
_TEMPLATE = re.compile(r"^\{\{\s*value_json(?:\.([A-Za-z_][A-Za-z0-9_]*)|\[['\"]([^'\"]+)['\"]\])\s*\}\}$")
# Home Assistant device classes → Sasha capabilities (its MQTT discovery and its own entities alike).
SENSOR_CLASSES = {
    "temperature": "temperature",
    "humidity": "humidity",
    "illuminance": "illuminance",
    "carbon_dioxide": "co2",
    "power": "power_usage",
    "energy": "energy",
    "battery": "battery",
}
SENSOR_UNITS = {"temperature": "°C", "power_usage": "W", "energy": "kWh"}
# Sasha's contact is true when closed; HA's door/window sensors are "on" when open.
BINARY_CLASSES = {
    "motion": ("motion", False),
    "occupancy": ("occupancy", False),
    "presence": ("occupancy", False),
    "smoke": ("smoke", False),
    "moisture": ("leak", False),
    "door": ("contact", True),
    "window": ("contact", True),
    "opening": ("contact", True),
    "garage_door": ("contact", True),
}
# Which entity names the device when several share one: the first of these present.
_TYPE_ORDER = ("light", "climate", "lock", "cover", "valve", "fan", "switch", "number", "select")


def expand(config: dict[str, Any]) -> dict[str, Any]:
    """Expand abbreviated keys and the `~` base topic the way Home Assistant does."""
    out = {ABBREVIATIONS.get(key, key): value for key, value in config.items()}
    device = out.get("device")
    if isinstance(device, dict):
        out["device"] = {DEVICE_ABBREVIATIONS.get(k, k): v for k, v in device.items()}
    base = out.get("~")
    if isinstance(base, str):
        for key, value in list(out.items()):
            if key.endswith("_topic") and isinstance(value, str):
                if value.startswith("~"):
                    out[key] = base + value[1:]
                elif value.endswith("~"):
                    out[key] = value[:-1] + base
    return out


def availability(cfg: dict[str, Any]) -> list[dict[str, Any]] | None:
    """Return the inventory's `availability` list of an (expanded) config, or None when it names none.

    HA's `availability` list wins over `availability_topic`; each entry's `topic` may use `~`.
    Raises Skip for a topic or template Sasha cannot read (the entity stays; only this is left out).
    """
    base = cfg.get("~") if isinstance(cfg.get("~"), str) else None
    raw = cfg.get("availability")
    if isinstance(raw, list) and raw:
        entries = [{ABBREVIATIONS.get(k, k): v for k, v in e.items()} for e in raw if isinstance(e, dict)]
    elif cfg.get("availability_topic") is not None:
        entries = [
            {
                "topic": cfg.get("availability_topic"),
                "payload_available": cfg.get("payload_available"),
                "payload_not_available": cfg.get("payload_not_available"),
                "value_template": cfg.get("availability_template"),
            }
        ]
    else:
        return None
    found = []
    for entry in entries:
        topic = entry.get("topic")
        if isinstance(topic, str) and base is not None and topic.startswith("~"):
            topic = base + topic[1:]
        elif isinstance(topic, str) and base is not None and topic.endswith("~"):
            topic = topic[:-1] + base
        if not isinstance(topic, str) or not topic or "+" in topic or "#" in topic:
            raise Skip(f"availability topic {str(topic)[:60]!r} is not a topic")
        spec: dict[str, Any] = {"topic": topic}
        for word, default in (("payload_available", "online"), ("payload_not_available", "offline")):
            value = entry.get(word)
            if value is not None and str(value) != default:
                spec[word] = str(value)
        key = json_key(entry.get("value_template"))
        if key is not None:
            spec["key"] = key
        found.append(spec)
    return found


def json_key(template: Any) -> str | None:
    """Return `x` for a `{{ value_json.x }}` template; raise Skip for any other template."""
    if template is None:
        return None
    match = _TEMPLATE.match(str(template).strip())
    if match is None:
        raise Skip(f"value template {str(template)[:60]!r} is more than {{{{ value_json.<key> }}}}")
    return match.group(1) or match.group(2)


@dataclass(slots=True)
class _Part:
    """What one entity adds to its device."""

    component: str
    type: str
    capabilities: dict[str, dict[str, Any]] = field(default_factory=dict)
    wire: dict[str, dict[str, Any]] = field(default_factory=dict)
    command_topic: str | None = None
    state_topic: str | None = None
    light_schema: str | None = None
    notes: list[str] = field(default_factory=list)
    sensitive: Sensitive | None = None


def _topic(cfg: dict[str, Any], key: str) -> str | None:
    value = cfg.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value or "+" in value or "#" in value:
        raise Skip(f"{key} {str(value)[:60]!r} is not a topic")
    return value


def _required(cfg: dict[str, Any], key: str) -> str:
    value = _topic(cfg, key)
    if value is None:
        raise Skip(f"no {key}")
    return value


def _no_template(cfg: dict[str, Any], *keys: str) -> None:
    for key in keys:
        if cfg.get(key):
            raise Skip(f"{key} is set: Sasha sends plain payloads")


def _words(cfg: dict[str, Any], pairs: Iterable[tuple[str, str, str]]) -> dict[str, Any]:
    """Return the wire words that differ from Sasha's defaults."""
    out: dict[str, Any] = {}
    for ha_key, sasha_key, default in pairs:
        value = cfg.get(ha_key)
        if value is not None and str(value) != default:
            out[sasha_key] = str(value)
    return out


def _put(part: _Part, name: str, spec: dict[str, Any], wire: dict[str, Any]) -> None:
    part.capabilities[name] = spec
    wire = {k: v for k, v in wire.items() if v is not None}
    if wire:
        part.wire[name] = wire


def _light(cfg: dict[str, Any]) -> _Part:
    schema = str(cfg.get("schema", "default"))
    if schema == "basic":
        schema = "default"  # the default schema's old name
    if schema not in ("json", "default"):
        raise Skip(f"light schema '{schema}': its commands are templates")
    part = _Part(
        "light", "light", command_topic=_required(cfg, "command_topic"), state_topic=_topic(cfg, "state_topic")
    )
    part.light_schema = schema
    modes = cfg.get("supported_color_modes")
    modes = {str(m) for m in modes} if isinstance(modes, list) else set()
    scale = number(cfg.get("brightness_scale"))
    scale_wire = {"scale": whole(scale)} if scale is not None and scale != 255 else {}
    if schema == "json":
        part.capabilities["power"] = {}
        if cfg.get("brightness") or modes - {"onoff"}:
            _put(part, "brightness", {"min": 1, "max": 100}, scale_wire)
        if cfg.get("color_temp") or "color_temp" in modes:
            _color_temp(cfg, part, {})
        if cfg.get("rgb") or "rgb" in modes:
            part.capabilities["color"] = {}
        elif other := sorted(modes & {"hs", "xy", "rgbw", "rgbww"}):
            part.notes.append(f"colour left out: the light takes {', '.join(other)}, Sasha sends rgb")
        return part
    _no_template(cfg, "command_template")
    part.capabilities["power"] = {}
    words = _words(cfg, (("payload_on", "payload_on", "ON"), ("payload_off", "payload_off", "OFF")))
    words |= {"key": json_key(cfg.get("state_value_template"))}
    _put(part, "power", {}, words)
    for name, prefix, spec in (
        ("brightness", "brightness", {"min": 1, "max": 100}),
        ("color_temp", "color_temp", None),
        ("color", "rgb", {}),
    ):
        command = _topic(cfg, f"{prefix}_command_topic")
        if command is None:
            continue
        try:
            _no_template(cfg, f"{prefix}_command_template")
            wire: dict[str, Any] = {
                "command_topic": command,
                "state_topic": _topic(cfg, f"{prefix}_state_topic"),
                "key": json_key(cfg.get(f"{prefix}_value_template")),
            }
            if name == "brightness":
                wire |= scale_wire
            if spec is None:
                _color_temp(cfg, part, wire)
            else:
                _put(part, name, spec, wire)
        except Skip as err:
            part.notes.append(f"{name} left out: {err}")
    if "color" not in part.capabilities and (cfg.get("hs_command_topic") or cfg.get("xy_command_topic")):
        part.notes.append("colour left out: the light takes hs/xy on its own topics, Sasha sends rgb")
    return part


def _color_temp(cfg: dict[str, Any], part: _Part, wire: dict[str, Any]) -> None:
    if cfg.get("color_temp_kelvin"):
        part.notes.append("colour temperature left out: the light takes kelvin (color_temp_kelvin), Sasha sends mireds")
        return
    low = number(cfg.get("min_mireds")) or 153.0  # HA's defaults
    high = number(cfg.get("max_mireds")) or 500.0
    if low >= high:
        part.notes.append(f"colour temperature left out: min_mireds {low:g} is not below max_mireds {high:g}")
        return
    _put(part, "color_temp", {"min": nice_kelvin(high), "max": nice_kelvin(low)}, wire)


def _switch(cfg: dict[str, Any]) -> _Part:
    _no_template(cfg, "command_template")
    kind = "plug" if cfg.get("device_class") == "outlet" else "switch"
    part = _Part("switch", kind, command_topic=_required(cfg, "command_topic"), state_topic=_topic(cfg, "state_topic"))
    words = _words(
        cfg,
        (
            ("payload_on", "payload_on", "ON"),
            ("payload_off", "payload_off", "OFF"),
            ("state_on", "state_on", str(cfg.get("payload_on", "ON"))),
            ("state_off", "state_off", str(cfg.get("payload_off", "OFF"))),
        ),
    )
    _put(part, "power", {}, words | {"key": json_key(cfg.get("value_template"))})
    return part


def _fan(cfg: dict[str, Any]) -> _Part:
    _no_template(cfg, "command_template")
    part = _Part("fan", "fan", command_topic=_required(cfg, "command_topic"), state_topic=_topic(cfg, "state_topic"))
    words = _words(cfg, (("payload_on", "payload_on", "ON"), ("payload_off", "payload_off", "OFF")))
    _put(part, "power", {}, words | {"key": json_key(cfg.get("state_value_template"))})
    command = _topic(cfg, "percentage_command_topic")
    if command is not None:
        try:
            _no_template(cfg, "percentage_command_template")
            low = number(cfg.get("speed_range_min")) or 1.0
            high = number(cfg.get("speed_range_max")) or 100.0
            if low != 1:
                raise Skip(f"speed_range_min {low:g}: Sasha scales from 0")  # noqa: TRY301  (becomes a note below)
            wire = {
                "command_topic": command,
                "state_topic": _topic(cfg, "percentage_state_topic"),
                "key": json_key(cfg.get("percentage_value_template")),
                "scale": whole(high) if high != 100 else None,
            }
            _put(part, "fan_speed", {}, wire)
        except Skip as err:
            part.notes.append(f"fan_speed left out: {err}")
    return part


def _cover(cfg: dict[str, Any]) -> _Part:
    command = _topic(cfg, "set_position_topic")
    if command is None:
        raise Skip("cover without set_position_topic: Sasha sets covers by position")
    _no_template(cfg, "set_position_template")
    closed = number(cfg.get("position_closed")) or 0.0
    opened = number(cfg.get("position_open"))
    opened = 100.0 if opened is None else opened
    if closed != 0 or opened <= 0:
        raise Skip(f"position range {closed:g}..{opened:g}: Sasha needs closed at 0")
    device_class = cfg.get("device_class")
    part = _Part("cover", "garage_door" if device_class in ("garage", "gate") else "cover")
    # A motorised door is no garage door, but opening it lets people in just the same.
    hazard = {"garage": Hazard.OPEN_GARAGE, "gate": Hazard.OPEN_GARAGE, "door": Hazard.OPEN_DOOR}.get(str(device_class))
    if hazard is not None:
        part.sensitive = Sensitive(hazard, f"announced as a Home Assistant cover of device class '{device_class}'")
    wire = {
        "command_topic": command,
        "state_topic": _topic(cfg, "position_topic"),
        "key": json_key(cfg.get("position_template")),
        "scale": whole(opened) if opened != 100 else None,
    }
    _put(part, "position", {}, wire)
    return part


def _lock(cfg: dict[str, Any]) -> _Part:
    _no_template(cfg, "command_template")
    part = _Part("lock", "lock", command_topic=_required(cfg, "command_topic"), state_topic=_topic(cfg, "state_topic"))
    part.sensitive = Sensitive(Hazard.UNLOCK, "announced as a Home Assistant lock")
    words = _words(
        cfg,
        (
            ("payload_lock", "payload_on", "LOCK"),
            ("payload_unlock", "payload_off", "UNLOCK"),
            ("state_locked", "state_on", "LOCKED"),
            ("state_unlocked", "state_off", "UNLOCKED"),
        ),
    )
    _put(part, "lock", {}, words | {"key": json_key(cfg.get("value_template"))})
    return part


def _valve(cfg: dict[str, Any]) -> _Part:
    if cfg.get("reports_position"):
        raise Skip("valve reports a position: Sasha drives valves open/closed")
    _no_template(cfg, "command_template")
    part = _Part(
        "valve", "water_valve", command_topic=_required(cfg, "command_topic"), state_topic=_topic(cfg, "state_topic")
    )
    part.sensitive = Sensitive(Hazard.WATER, "announced as a Home Assistant valve")
    # Sasha's valve is power: "on" means open.
    words = {
        "payload_on": str(cfg.get("payload_open", "OPEN")),
        "payload_off": str(cfg.get("payload_close", "CLOSE")),
        "state_on": str(cfg.get("state_open", "open")),
        "state_off": str(cfg.get("state_closed", "closed")),
    }
    sasha_words = {"payload_on": "ON", "payload_off": "OFF", "state_on": "ON", "state_off": "OFF"}
    words = {k: v for k, v in words.items() if v != sasha_words[k]}
    _put(part, "power", {}, words | {"key": json_key(cfg.get("value_template"))})
    return part


def _climate(cfg: dict[str, Any]) -> _Part:
    part = _Part("climate", "thermostat")
    if str(cfg.get("temperature_unit", "C")).upper().startswith("F"):
        raise Skip("climate in °F: Sasha's temperatures are °C")
    command = _topic(cfg, "temperature_command_topic")
    if command is not None:
        try:
            _no_template(cfg, "temperature_command_template")
            low, high = number(cfg.get("min_temp")), number(cfg.get("max_temp"))
            step = number(cfg.get("temp_step"))
            spec = {"min": whole(7.0 if low is None else low), "max": whole(35.0 if high is None else high)}
            spec["step"] = whole(1.0 if step is None else step)  # HA's defaults: 7..35 °C in steps of 1
            wire = {
                "command_topic": command,
                "state_topic": _topic(cfg, "temperature_state_topic"),
                "key": json_key(cfg.get("temperature_state_template")),
            }
            _put(part, "target_temperature", spec, wire)
        except Skip as err:
            part.notes.append(f"target_temperature left out: {err}")
    current = _topic(cfg, "current_temperature_topic")
    if current is not None:
        try:
            _put(
                part,
                "temperature",
                {},
                {"state_topic": current, "key": json_key(cfg.get("current_temperature_template"))},
            )
        except Skip as err:
            part.notes.append(f"temperature left out: {err}")
    mode = _topic(cfg, "mode_command_topic")
    if mode is not None:
        try:
            _no_template(cfg, "mode_command_template")
            modes = cfg.get("modes", ["auto", "off", "cool", "heat", "dry", "fan_only"])
            if not isinstance(modes, list) or not modes:
                raise Skip("modes is not a list")  # noqa: TRY301  (becomes a note below)
            wire = {
                "command_topic": mode,
                "state_topic": _topic(cfg, "mode_state_topic"),
                "key": json_key(cfg.get("mode_state_template")),
            }
            _put(part, "hvac_mode", {"values": [str(m) for m in modes]}, wire)
        except Skip as err:
            part.notes.append(f"hvac_mode left out: {err}")
    power = _topic(cfg, "power_command_topic")
    if power is not None:
        part.command_topic = power
        _put(
            part, "power", {}, _words(cfg, (("payload_on", "payload_on", "ON"), ("payload_off", "payload_off", "OFF")))
        )
    if cfg.get("fan_mode_command_topic"):
        part.notes.append("fan modes left out: they are words, Sasha's fan_speed is a percentage")
    if not part.capabilities:
        raise Skip("climate without temperature, mode or power topics")
    return part


def _sensor(cfg: dict[str, Any]) -> _Part:
    device_class = cfg.get("device_class")
    name = SENSOR_CLASSES.get(str(device_class))
    if name is None:
        raise Skip(f"sensor device class {device_class!r} is not one Sasha reads")
    unit = cfg.get("unit_of_measurement")
    expected = SENSOR_UNITS.get(name)
    if expected is not None and unit is not None and str(unit) != expected:
        raise Skip(f"{name} in {unit}: Sasha's {name} is in {expected}")
    part = _Part("sensor", "sensor")
    _put(part, name, {}, {"state_topic": _required(cfg, "state_topic"), "key": json_key(cfg.get("value_template"))})
    return part


def _binary_sensor(cfg: dict[str, Any]) -> _Part:
    device_class = cfg.get("device_class")
    known = BINARY_CLASSES.get(str(device_class))
    if known is None:
        raise Skip(f"binary sensor device class {device_class!r} is not one Sasha reads")
    name, inverted = known
    on, off = str(cfg.get("payload_on", "ON")), str(cfg.get("payload_off", "OFF"))
    if inverted:
        on, off = off, on
    part = _Part("binary_sensor", "sensor")
    wire = {"state_topic": _required(cfg, "state_topic"), "key": json_key(cfg.get("value_template"))}
    if (on, off) != ("ON", "OFF"):
        wire |= {"state_on": on, "state_off": off}
    _put(part, name, {}, wire)
    return part


def _number(cfg: dict[str, Any]) -> _Part:
    if cfg.get("device_class") != "temperature" or str(cfg.get("unit_of_measurement", "°C")) != "°C":
        raise Skip("number entity that is not a °C temperature: no Sasha capability for it")
    _no_template(cfg, "command_template")
    low, high, step = number(cfg.get("min")), number(cfg.get("max")), number(cfg.get("step"))
    spec = {"min": whole(1.0 if low is None else low), "max": whole(100.0 if high is None else high)}
    spec["step"] = whole(1.0 if step is None else step)
    part = _Part("number", "thermostat")
    wire = {
        "command_topic": _required(cfg, "command_topic"),
        "state_topic": _topic(cfg, "state_topic"),
        "key": json_key(cfg.get("value_template")),
    }
    _put(part, "target_temperature", spec, wire)
    return part


def _select(cfg: dict[str, Any]) -> _Part:
    label = f"{cfg.get('name', '')} {cfg.get('object_id', '')}".lower()
    capability = "hvac_mode" if "mode" in label else "source" if ("source" in label or "input" in label) else None
    options = cfg.get("options")
    if capability is None or not isinstance(options, list) or not options:
        raise Skip("select entity that is not a mode or an input source: no Sasha capability for it")
    _no_template(cfg, "command_template")
    part = _Part("select", "media_player" if capability == "source" else "thermostat")
    wire = {
        "command_topic": _required(cfg, "command_topic"),
        "state_topic": _topic(cfg, "state_topic"),
        "key": json_key(cfg.get("value_template")),
    }
    _put(part, capability, {"values": [str(o) for o in options]}, wire)
    return part


_PARSERS = {
    "light": _light,
    "switch": _switch,
    "fan": _fan,
    "cover": _cover,
    "lock": _lock,
    "valve": _valve,
    "climate": _climate,
    "sensor": _sensor,
    "binary_sensor": _binary_sensor,
    "number": _number,
    "select": _select,
}
_REASONS = {
    "media_player": "Home Assistant's MQTT integration has no media players",
    "alarm_control_panel": "arm modes are not Sasha's on/off alarm yet",
    "humidifier": "no Sasha capability for target humidity",
    "water_heater": "no Sasha capability for water heaters",
}


def configs(messages: Iterable[tuple[str, bytes]]) -> Findings:
    """Turn Home Assistant discovery configs (topic, payload) into devices and skipped reasons."""
    findings = Findings()
    groups: dict[str, list[tuple[str, dict[str, Any], _Part]]] = {}
    for topic, payload in messages:
        for source, cfg, component in _entities(topic, payload, findings):
            try:
                parser = _PARSERS.get(component)
                if parser is None:
                    reason = _REASONS.get(component, "no Sasha capability for it")
                    raise Skip(f"component '{component}': {reason}")  # noqa: TRY301  (one reason list below)
                part = parser(cfg)
            except Skip as err:
                findings.skipped.append(Skipped(source, str(err)))
                continue
            device = _device_block(cfg)
            ids = device.get("identifiers")
            ident = ids[0] if isinstance(ids, list) and ids else ids
            group = f"id:{ident}" if isinstance(ident, str) and ident else f"entity:{source}"
            groups.setdefault(group, []).append((source, cfg, part))
    for members in groups.values():
        findings.devices += _assemble(members)
    return findings


def _entities(topic: str, payload: bytes, findings: Findings) -> list[tuple[str, dict[str, Any], str]]:
    """Return (source, expanded config, component) for one message; device configs carry several."""
    parts = topic.split("/")
    if len(parts) not in (4, 5) or parts[0] != PREFIX or parts[-1] != "config":
        findings.skipped.append(Skipped(topic, "not a discovery config topic"))
        return []
    component = parts[1]
    if not payload:
        return []  # an empty retained config is how an entity is removed
    if len(payload) > MAX_CONFIG:
        findings.skipped.append(Skipped(topic, f"config of {len(payload)} bytes is over {MAX_CONFIG}"))
        return []
    try:
        raw = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        findings.skipped.append(Skipped(topic, "config is not JSON"))
        return []
    if not isinstance(raw, dict):
        findings.skipped.append(Skipped(topic, "config is not a JSON object"))
        return []
    cfg = expand(raw)
    if component != "device":
        return [(topic, cfg, component)]
    # Device-based discovery: one config, the device and origin shared by its components.
    components = cfg.get("components")
    if not isinstance(components, dict):
        findings.skipped.append(Skipped(topic, "device config without components"))
        return []
    found = []
    for object_id, entity in components.items():
        if not isinstance(entity, dict):
            findings.skipped.append(Skipped(f"{topic}#{object_id}", "component is not a JSON object"))
            continue
        merged = expand({k: v for k, v in raw.items() if k not in ("cmps", "components")} | entity)
        found.append((f"{topic}#{object_id}", merged, str(merged.get("platform", ""))))
    return found


def _device_block(cfg: dict[str, Any]) -> dict[str, Any]:
    device = cfg.get("device")
    return device if isinstance(device, dict) else {}


def _assemble(members: list[tuple[str, dict[str, Any], _Part]]) -> list[Found]:
    """Join the entities of one device; a capability claimed twice starts another device."""
    members.sort(key=lambda m: _TYPE_ORDER.index(m[2].component) if m[2].component in _TYPE_ORDER else len(_TYPE_ORDER))
    devices: list[tuple[Found, list[str]]] = []
    for source, cfg, part in members:
        target = next((d for d, _ in devices if not part.capabilities.keys() & d.capabilities.keys()), None)
        if target is not None and part.command_topic and target.command_topic:
            target = None  # one main topic per device
        if target is None:
            device = _device_block(cfg)
            name = device.get("name") or cfg.get("name") or source.split("/")[-2]
            if devices and cfg.get("name"):
                name = f"{device.get('name') or ''} {cfg.get('name')}".strip()
            area = device.get("suggested_area")
            target = Found(
                name=str(name),
                type=part.type,
                protocol="homeassistant",
                source=f"Home Assistant discovery {source}",
                topic=cfg.get("~") if isinstance(cfg.get("~"), str) else None,
                area=str(area) if isinstance(area, str) and area.strip() else None,
            )
            if isinstance(device.get("model"), str):
                target.hints.append(("its model", device["model"]))
            devices.append((target, []))
        else:
            next(sources for d, sources in devices if d is target).append(source)
        # A firmware names the device after itself ("Shelly 1") and the entity after what it drives.
        if isinstance(cfg.get("name"), str) and cfg["name"] != target.name:
            target.hints.append(("an entity's name", cfg["name"]))
        target.sensitive = target.sensitive or part.sensitive
        target.capabilities |= part.capabilities
        target.wire |= part.wire
        target.notes += part.notes
        target.command_topic = target.command_topic or part.command_topic
        target.state_topic = target.state_topic or part.state_topic
        target.light_schema = target.light_schema or part.light_schema
        try:
            target.availability = target.availability or availability(cfg)
        except Skip as err:
            target.notes.append(str(err))
        if target.type == "sensor" and part.type != "sensor":
            target.type = part.type
    for found, more in devices:
        if more:
            found.source += f" (+{len(more)} more entit{'y' if len(more) == 1 else 'ies'})"
    return [d for d, _ in devices]
