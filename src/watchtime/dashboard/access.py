"""Who may see the dashboard: signed-in users (Django sessions), or everyone where the API itself is open
(WATCHTIME_AUTH=false); only admins (superusers) see a viewer's export and erasure."""

from functools import wraps

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied


def is_open() -> bool:
    return not settings.WATCHTIME_AUTH


def is_admin(request) -> bool:
    # Where the API is open, so is its erasure endpoint: the dashboard hides nothing the API offers.
    return is_open() or (request.user.is_authenticated and request.user.is_superuser)


def reader_required(view):
    @wraps(view)
    def guarded(request, *args, **kwargs):
        if not is_open() and not (request.user.is_authenticated and request.user.is_active):
            return redirect_to_login(request.get_full_path())
        return view(request, *args, **kwargs)

    return guarded


def admin_required(view):
    @wraps(view)
    @reader_required
    def guarded(request, *args, **kwargs):
        if not is_admin(request):
            raise PermissionDenied("Only an admin may export or erase a viewer.")
        return view(request, *args, **kwargs)

    return guarded
