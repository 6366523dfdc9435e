"""Contract tests: documents published by the channels themselves (webhook samples,
API responses from their documentation, SDK tests or schemas), one folder per channel
kind with a SOURCES.md saying where each file came from, replayed against the hub's
verifiers, parsers and adapters' response handling."""
