"""The ticket's admin: priority as a radio group, labels as a plain multi-select; saving a new
ticket leads to its public page through the admin's "view on site" redirect."""

import os

from django.contrib import admin
from django.contrib.contenttypes.models import ContentType
from django.http import HttpResponseRedirect
from django.urls import reverse

from .models import Label, Ticket

BREAKAGE = os.environ.get("ADMIN_APP_BREAKAGE", "")


@admin.register(Ticket)
class TicketAdmin(admin.ModelAdmin):
    radio_fields = {"priority": admin.HORIZONTAL}  # noqa: RUF012 (Django declares so)
    fields = ("title", "priority", "urgent", "team", "labels")
    if BREAKAGE == "field_removed":
        fields = ("title", "priority", "urgent", "labels")  # the team select is gone

    def save_model(self, request, obj, form, change):  # type: ignore[no-untyped-def]
        if BREAKAGE == "save_500":
            raise RuntimeError("saving is broken on purpose")
        super().save_model(request, obj, form, change)

    def response_add(self, request, obj, post_url_continue=None):  # type: ignore[no-untyped-def]
        # /admin/r/<type>/<id>/ → /tickets/<id> → /tickets/<id>/: three hops after the post.
        kind = ContentType.objects.get_for_model(obj)
        return HttpResponseRedirect(reverse("admin:view_on_site", args=[kind.pk, obj.pk]))


admin.site.register(Label)
