"""Answers are JSON whatever the client's ``Accept`` says: the contract fixes them."""

from collections.abc import Sequence

from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request


class JSONAnswerNegotiation(DefaultContentNegotiation):
    """Parsers are picked by ``Content-Type`` as usual; the renderer is always the first one."""

    def select_renderer(
        self, request: Request, renderers: Sequence[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        return renderers[0], renderers[0].media_type
