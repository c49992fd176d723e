"""The live dashboard feed: every message of the subscribed metric types, as WebSocket frames."""

from receivers.dashboard.receiver import DashboardReceiver

__all__ = ["DashboardReceiver"]
