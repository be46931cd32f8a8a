"""Test infrastructure shared by every package: real PostgreSQL + pgvector, real Redis, fake OpenAI.

Loaded as the ``popchoice`` pytest plugin (entry point ``pytest11``).
"""
