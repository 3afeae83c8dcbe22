"""Routines: their shapes and checks, the `routines.yaml` store, the engine that fires them, and the book.

May import `home`, `mqtt` and the request path's executor, state mirror and audit log; never
`planning` (the planner imports routines, not the other way round) or `surfaces`.
"""
