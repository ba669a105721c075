"""The session store: every conversation Talaria has, recorded as it happens."""
