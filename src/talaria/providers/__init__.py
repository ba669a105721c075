"""Model providers: the protocol, the OpenAI-compatible wire adapter, the client pool,
retries and fallback.  Import submodules directly; this package imports nothing heavy."""
