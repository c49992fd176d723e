"""The agent calls' answers: DRF's JSON, with the one answer nearly every call gets rendered once."""

from typing import Any

from rest_framework.renderers import JSONRenderer

SUCCESS = {"result": "success"}


class AgentAnswerRenderer(JSONRenderer):
    """``JSONRenderer``, returning ``SUCCESS`` as bytes it rendered at start: dumping that
    constant through DRF's encoder (and its indent look-up) was a few per cent of a call."""

    def __init__(self) -> None:
        self.success = super().render(SUCCESS)

    def render(self, data: Any, media_type: str | None = None, renderer_context: Any = None) -> bytes:
        if data is SUCCESS:
            return self.success
        return super().render(data, media_type, renderer_context)
