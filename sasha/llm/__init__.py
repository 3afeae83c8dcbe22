"""Talking to language models: the client, the decision schemas and a scripted server."""
