"""Planning: a request in words → a grounded decision, through relevance, prompts, one model call and repair.

May import `home`, `routines` (shapes and checks), and `llm/` inside it;
never `mqtt`, `sim`, `scenarios` or `surfaces`.
"""
