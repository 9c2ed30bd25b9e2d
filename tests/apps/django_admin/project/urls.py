"""The admin, and a public page per ticket (where the admin's "view on site" leads)."""

from django.contrib import admin
from django.urls import path
from tickets.views import ticket_page

urlpatterns = [
    path("admin/", admin.site.urls),
    path("tickets/<int:pk>/", ticket_page, name="ticket"),
]
