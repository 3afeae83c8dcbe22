"""Talking to language models: settings, the client, the decision schemas, a scripted server and the tiny real one.

May import `sasha.errors` and `sasha.home` only; `settings` imports nothing that needs openai.
"""
