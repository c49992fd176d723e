"""Configuration rows shared by both kinds of plug-in: metric types and the plug-in row shape."""

from typing import Any

from django.core.exceptions import ValidationError
from django.db import models

from poa_backend.core.plugins import Plugin, load_plugin_class


class MetricType(models.Model):
    """A kind of metric agents may send (a ``/data`` call's ``type``); receivers subscribe to these."""

    name = models.SlugField(max_length=100, unique=True)
    description = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class PluginRow(models.Model):
    """A plug-in named by its class, configured by its options, switched by ``enabled``."""

    #: The base class the named class must extend; set by each concrete row model.
    plugin_base: type[Plugin] = Plugin

    name = models.SlugField(max_length=100, unique=True)
    class_path = models.CharField("class", max_length=255, help_text="Dotted path of the implementing class.")
    options = models.JSONField(
        default=dict,
        blank=True,
        help_text="A JSON object checked by the class. A listener change "
        "(scheme, host, port, certificate) takes effect at the next restart.",
    )
    enabled = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        try:
            cls = load_plugin_class(self.class_path, self.plugin_base)
        except ValidationError as exc:
            raise ValidationError({"class_path": exc.messages}) from exc
        try:
            cls.clean_options(dict(self.options) if isinstance(self.options, dict) else self.options)
        except ValidationError as exc:
            raise ValidationError({"options": exc.messages}) from exc
        except Exception as exc:  # a third-party check that crashes is still just a bad value
            raise ValidationError({"options": f"rejected by {self.class_path}: {exc}"}) from exc

    def build(self) -> Any:
        """The plug-in instance this row describes (raises ValidationError when it cannot be built)."""
        cls = load_plugin_class(self.class_path, self.plugin_base)
        return cls(self.name, self.options)

    @property
    def signature(self) -> tuple:
        """What, when changed, means the running instance must be rebuilt."""
        return (
            self.class_path,
            repr(sorted(self.options.items())) if isinstance(self.options, dict) else repr(self.options),
        )
