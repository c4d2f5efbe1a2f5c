"""Python SDK of the benchmark server (see sdk/client.py)."""
from .client import BadRequest, Client, NotFound, RunTimeout, ServerError, Unauthorized

__all__ = ["Client", "ServerError", "BadRequest", "Unauthorized", "NotFound", "RunTimeout"]
