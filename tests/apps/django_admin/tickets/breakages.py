"""Breakages switched on by $ADMIN_APP_BREAKAGE, for tests that show a seeded suite catches them:
a login wall on the add page, and a slow add page (the form and save breakages are in admin.py)."""

import os
import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect

SLOW_S = 3.0  # unless $ADMIN_APP_SLOW_S says how slow


class BreakageMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.breakage = os.environ.get("ADMIN_APP_BREAKAGE", "")
        self.slow_s = float(os.environ.get("ADMIN_APP_SLOW_S") or SLOW_S)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        on_add_page = request.method == "GET" and request.path.endswith("/ticket/add/")
        if self.breakage == "login_wall" and on_add_page:
            return HttpResponseRedirect(f"/admin/login/?next={request.path}")
        if self.breakage == "slow_page" and on_add_page:
            time.sleep(self.slow_s)
        return self.get_response(request)
