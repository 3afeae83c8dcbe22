"""Talking to language models: settings, the client, the decision schemas and a scripted server.

May import `sasha.errors` and `sasha.home` only; `settings` imports nothing that needs openai.
"""
