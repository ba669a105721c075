"""Delegation: ``delegate_task`` fans work out to concurrent subagents.

``policy`` decides what a child may do, ``context`` carries what a delegating
agent shares with its children, ``runner`` schedules, supervises and records
them, and ``tool`` is the model-facing ``delegate_task``.
"""
