"""The POA Protocol over WebSocket: ``AgentSocketHandler`` (see docs/handlers.md)."""

from handlers.websocket.handler import AgentSocketHandler

__all__ = ["AgentSocketHandler"]
