"""The admin's sign-in form, throttled like every other staff password check.

A failed sign-in counts against the client address and the user name tried, in the
counters HTTP Basic uses (``AUTH_FAILURE_LIMIT`` failures per ``AUTH_FAILURE_WINDOW``
seconds, shared by every process with ``REDIS_URL``), so guesses through the form and
through the history API add up. Past the limit the form answers 429 with Retry-After,
and the password is not checked.
"""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse

from poa_backend.core.credentials import FailedCredentialsThrottle


class SignInThrottle(FailedCredentialsThrottle):
    #: The user-name scope it shares with the staff endpoints' Basic authentication.
    principal = "staff"

    def claimed_name(self, request: Any) -> str | None:
        return request.POST.get("username") or None


def admin_login(request: HttpRequest, **kwargs: Any) -> HttpResponse:
    """``admin.site.login``, refused once the address or the name has failed too often."""
    throttle = SignInThrottle()
    if request.method == "POST" and not throttle.allow_request(request, throttle):
        wait = throttle.wait()
        response = HttpResponse(
            f"Too many failed sign-ins from this address or for this user name: "
            f"try again in {wait} seconds.\n",
            status=429,
            content_type="text/plain; charset=utf-8",
        )
        response["Retry-After"] = str(wait)
        return response
    response = admin.site.login(request, **kwargs)
    if request.method == "POST" and response.status_code == 200:  # the form again: refused
        throttle.record_failure(request, throttle)
    return response
