"""The bridge's HTTP API (FastAPI): thin routes over the governance service functions."""
