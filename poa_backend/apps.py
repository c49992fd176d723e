from django.apps import AppConfig


class ProjectConfig(AppConfig):
    """The project itself: settings, routing, the server and ``runbackend``; no models."""

    name = "poa_backend"
    label = "project"
    verbose_name = "POA backend project"
