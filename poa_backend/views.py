from django.http import HttpRequest, HttpResponse


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """Unknown paths answer 404 with an empty body, as the POA Protocol says."""
    return HttpResponse(status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    """No traceback or error page ever reaches a client."""
    return HttpResponse(status=500)
