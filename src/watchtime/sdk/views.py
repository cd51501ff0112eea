"""GET /sdk/watchtime-player.js (revalidated with its ETag) and /sdk/<version>/watchtime-player.js
(immutable): no key, and `Access-Control-Allow-Origin: *`, since any player page may load it as a
module script (which browsers fetch in CORS mode, as they do for an integrity check)."""

from django.http import Http404, HttpResponse
from django.utils.cache import get_conditional_response
from django.views.decorators.http import require_safe

from watchtime.sdk import sdk_file

LATEST_CACHE = "public, max-age=300"  # a new image's SDK reaches pages within 5 minutes
VERSIONED_CACHE = "public, max-age=31536000, immutable"


@require_safe
def latest(request):
    return _serve(request, LATEST_CACHE)


@require_safe
def versioned(request, version: str):
    if version != sdk_file().version:
        raise Http404("This API serves another SDK version.")
    return _serve(request, VERSIONED_CACHE)


def _serve(request, cache_control: str) -> HttpResponse:
    sdk = sdk_file()
    response = get_conditional_response(request, etag=sdk.etag) or HttpResponse(
        sdk.body, content_type="text/javascript; charset=utf-8"
    )
    response["ETag"] = sdk.etag
    response["Cache-Control"] = cache_control
    response["Access-Control-Allow-Origin"] = "*"
    response["Cross-Origin-Resource-Policy"] = "cross-origin"
    return response
