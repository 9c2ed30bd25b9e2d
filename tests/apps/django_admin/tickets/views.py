"""The public page of a ticket (every field as saved), with a link back to its admin change form."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.html import format_html

from .models import Ticket


def ticket_page(request: HttpRequest, pk: int) -> HttpResponse:
    ticket = get_object_or_404(Ticket, pk=pk)
    edit = reverse("admin:tickets_ticket_change", args=[ticket.pk])
    labels = ", ".join(sorted(label.name for label in ticket.labels.all()))
    return HttpResponse(
        format_html(
            '<!doctype html><title>{}</title><h1 id="title">{}</h1><p id="saved">'
            "priority={} urgent={} team={} labels={}</p>"
            '<a id="edit" href="{}">Edit</a>',
            ticket.title,
            ticket.title,
            ticket.priority,
            ticket.urgent,
            ticket.team,
            labels,
            edit,
        )
    )
