"""The home's history on disk: the audit log of requests and actions, and the bounded state history."""
