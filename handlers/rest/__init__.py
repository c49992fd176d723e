"""The POA Protocol over REST (``POST /ping``, ``/data``, ``/bye``), the reference agent's transport."""

from handlers.rest.handler import RestHandler

__all__ = ["RestHandler"]
