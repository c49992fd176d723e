from handlers import base
from poa_backend.models import PluginRow


class CustomHandler(PluginRow):
    """A running custom handler: the class that speaks the POA Protocol, and its listener."""

    plugin_base = base.CustomHandler

    class Meta(PluginRow.Meta):
        verbose_name = "custom handler"
