"""The home's history on disk: the audit log of requests, decisions, actions and model calls."""
