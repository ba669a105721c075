"""Slash commands: one registry shared by the REPL and every gateway platform,
plus the user's ``quick_commands`` (shell snippets and aliases) from config."""
