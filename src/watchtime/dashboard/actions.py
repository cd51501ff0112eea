"""The dashboard's downloads and actions: an API answer as CSV or JSON, a viewer's export and erasure, sign-in."""

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.http import Http404
from django.shortcuts import redirect
from django.views.decorators.http import require_GET, require_POST

from watchtime.dashboard.access import admin_required, is_open, reader_required
from watchtime.dashboard.answers import ADMIN_ONLY, ARGUMENTS, VIEWS, answer, respond

FORMATS = ("csv", "json")


@require_GET
@reader_required
def data(request, name: str):
    """GET /dashboard/data/<API URL name>/?movie=|user=&...&format=csv|json: the API view's own answer."""
    if name not in VIEWS or name in ADMIN_ONLY:
        raise Http404
    query = request.GET.dict()
    try:
        arguments = {keyword: kind(query.pop(argument)) for argument, (keyword, kind) in ARGUMENTS.items()
                     if argument in query}
    except ValueError:
        raise Http404 from None
    fmt = query.get("format") if query.get("format") in FORMATS else "json"
    response = respond(request, name, {**query, "format": fmt}, **arguments)
    if fmt == "csv":
        about = "-".join(str(v) for v in arguments.values())
        response["Content-Disposition"] = f'attachment; filename="watchtime-{name}{"-" + about if about else ""}.csv"'
    return response


@require_GET
@admin_required
def export(request, username: str):
    return respond(request, "user-export", {}, username=username)


@require_POST
@admin_required
def erase(request, username: str):
    if request.POST.get("confirm", "") != username:
        messages.error(request, f"Nothing was erased: type the username “{username}” exactly to confirm.")
        return redirect("dashboard:viewer", username=username)
    result = answer(request, "user-erasure", {"suppress": "true" if request.POST.get("suppress") else None},
                    method="DELETE", username=username)
    if not result.ok:
        messages.error(request, f"Nothing was erased: {result.message}")
        return redirect("dashboard:viewer", username=username)
    figures = result.data
    messages.success(request, f"Erased {username}: {figures['events_deleted']:,} events and "
                              f"{figures['watch_time_removed']:,} s of watch time over {figures['movies_affected']:,} movies.")
    return redirect("dashboard:overview")


class LoginView(auth_views.LoginView):
    template_name = "dashboard/login.html"
    redirect_authenticated_user = True

    def dispatch(self, request, *args, **kwargs):
        if is_open():  # nothing to sign in to
            return redirect("dashboard:overview")
        return super().dispatch(request, *args, **kwargs)


logout = auth_views.LogoutView.as_view(next_page="dashboard:login")
