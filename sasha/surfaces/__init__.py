"""The ways people and programs reach Sasha: the command line, the chat, the MQTT daemon and one-shot commands.

`cli` parses and dispatches; `runtime` wires an assistant from the settings; `daemon` serves the
MQTT API (`api` holds its messages); `demo` and `chat` are the terminal; `oneshot` holds `ask`,
`plan`, `history`, `health` and `routines`; `render` shows results. Nothing imports `surfaces`.
"""
