"""`sasha chat`: talk to the home in a terminal.

Plans are shown as a table (device, room, change, reason): after they ran, or before, when
the policy holds them for a yes. At that prompt "yes" runs the plan, "no" drops it, and
anything else is feedback that revises it. Slash commands show the home.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime

from rich.console import Console
from rich.table import Table

from sasha.assistant import Assistant, Reply
from sasha.history.outcomes import Status
from sasha.home.inventory import Inventory
from sasha.routines.routine import describe as describe_routine
from sasha.state import StateMirror
from sasha.surfaces.render import describe
from sasha.understanding import vocabulary

ReadLine = Callable[[str], Awaitable[str | None]]
PROMPT = "[bold cyan]you>[/bold cyan] "
_STYLES = {
    Status.DONE: "green",
    Status.NEEDS_CONFIRMATION: "yellow",
    Status.ERROR: "red",
    Status.INFEASIBLE: "red",
    Status.REJECTED: "red",
}

HELP = """\
Say what you want: "turn on the kitchen light", "make it cozy", "is it warm in the bedroom?".
  /devices          the devices of the home
  /state [name]     current values (of one device or room)
  /routines         the routines (say "stop the night routine" to change one)
  /undo             put back what the last plan changed
  /history [Q]      what happened today (or the story question Q) and the last requests
  /help             this text
  /quit             leave (Ctrl-D works too)"""


def terminal_reader(console: Console) -> ReadLine:
    """Read lines from the terminal without blocking the event loop."""

    async def read(prompt: str) -> str | None:
        try:
            return await asyncio.to_thread(console.input, prompt)
        except EOFError:
            return None

    return read


class Chat:
    """One terminal conversation with the assistant."""

    def __init__(
        self,
        assistant: Assistant,
        mirror: StateMirror,
        console: Console,
        read: ReadLine,
        *,
        conversation: str = "chat",
    ) -> None:
        self._assistant = assistant
        self._home: Inventory = assistant.home
        self._mirror = mirror
        self._console = console
        self._read = read
        self._conversation = conversation

    async def run(self) -> int:
        """Talk until the user leaves."""
        self._console.print("[bold]Sasha[/bold] is listening. /help lists the commands.")
        while True:
            line = await self._read(PROMPT)
            if line is None or line.strip() in ("/quit", "/exit"):
                self._console.print("\nBye." if line is None else "Bye.")
                return 0
            text = line.strip()
            if not text:
                continue
            if text.startswith("/"):
                await self._command(text)
                continue
            await self.say(text)

    async def say(self, text: str) -> None:
        """Send one request and follow it through confirmation or feedback."""
        reply = await self._ask(text)
        while reply.status == Status.NEEDS_CONFIRMATION and (token := reply.confirm_token):
            answer = await self._read("[bold]Run it?[/bold] yes / no / or say what to change: ")
            if answer is None:
                self._console.print()
            word = vocabulary.spoken(answer or "no")
            if word in vocabulary.YES:
                reply = await self._assistant.confirm(token, True, source="chat")
                self._show(reply)
                return
            await self._assistant.confirm(token, False, source="chat")
            if not word or word in vocabulary.NO:
                self._console.print("OK, I left everything as it was.")
                return
            reply = await self._ask(answer or "")  # feedback: the planner revises its last plan

    async def _ask(self, text: str) -> Reply:
        with self._console.status("thinking…"):
            reply = await self._assistant.handle(text, conversation=self._conversation, source="chat")
        self._show(reply)
        return reply

    def _show(self, reply: Reply) -> None:
        style = _STYLES.get(reply.status, "default")
        self._console.print(f"[{style}]{reply.message}[/]", highlight=False)
        rows = [a for a in reply.actions if a.device]
        if rows:
            table = Table("device", "room", "change", "reason", "result")
            for action in rows:
                device = self._home.devices.get(action.device)
                room = self._home.rooms[device.room].name if device else ""
                name = (device.name if device else action.device) + (" ⚠" if device and device.sensitive else "")
                change = ", ".join(f"{k} → {v}" for k, v in action.set.items())
                if reply.status == Status.NEEDS_CONFIRMATION:
                    result = "waiting"
                else:
                    result = action.result + (f": {action.error}" if action.error else "")
                table.add_row(name, room, change, action.reason, result)
            self._console.print(table)
        skipped = [a.error for a in reply.actions if not a.device and a.error]
        for why in skipped:
            self._console.print(f"  [dim]dropped: {why}[/dim]", highlight=False)

    async def _command(self, text: str) -> None:
        command, _, argument = text.partition(" ")
        if command == "/help":
            self._console.print(HELP, markup=False, highlight=False)
        elif command == "/devices":
            self._devices()
        elif command == "/state":
            self._state(argument.strip())
        elif command == "/undo":
            await self.say("undo")
        elif command == "/history":
            await self._history(argument.strip())
        elif command == "/routines":
            self._routines()
        else:
            self._console.print(f"Unknown command {command}; /help lists them.", markup=False)

    def _routines(self) -> None:
        book = self._assistant.routines
        routines = book.routines if book is not None else []
        if not routines:
            self._console.print('No routines yet. Try "turn the bathroom fan on when it gets humid".')
            return
        table = Table("routine", "on", "what")
        for routine in routines:
            table.add_row(routine.name, "yes" if routine.enabled else "no", describe_routine(routine))
        self._console.print(table)
        self._console.print('[dim]Say "stop the <name> routine", "start …" or "delete …" to change them.[/dim]')

    def _devices(self) -> None:
        table = Table("room", "device", "type", "capabilities")
        for room in self._home.rooms.values():
            for device in self._home.in_room(room.id):
                caps = ", ".join(describe(c) for c in device.capabilities.values())
                table.add_row(room.name, device.name + (" ⚠" if device.sensitive else ""), device.type.value, caps)
        self._console.print(table)

    def _state(self, label: str) -> None:
        devices = list(self._home.devices.values())
        if label:
            room = self._home.room(label)
            devices = self._home.in_room(room.id) if room else self._home.find(label)
            if not devices:
                self._console.print(f"No device or room called {label!r}.", markup=False)
                return
        table = Table("device", "values", "last seen")
        for device in devices:
            values = self._mirror.values(device.id)
            seen = [r.seen for n in device.capabilities if (r := self._mirror.get(device.id, n))]
            when = datetime.fromtimestamp(max(seen)).strftime("%H:%M:%S") if seen else "never"
            table.add_row(device.name, ", ".join(f"{k}={v}" for k, v in values.items()) or "unknown", when)
        self._console.print(table)

    async def _history(self, question: str) -> None:
        audit = self._assistant.audit
        if audit is None:
            self._console.print("No audit log is kept.")
            return
        # The same answer the MQTT API gives to the same question ("what happened today", "why is X on").
        reply = await self._assistant.handle(
            question or "what happened today", conversation=self._conversation, source="chat"
        )
        self._console.print(reply.message, markup=False, highlight=False)
        table = Table("when", "request", "path", "status")
        for entry in await asyncio.to_thread(audit.recent, 10):
            table.add_row(datetime.fromtimestamp(entry.at).strftime("%H:%M:%S"), entry.text, entry.path, entry.status)
        self._console.print(table)
