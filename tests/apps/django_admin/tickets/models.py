"""A support ticket: a text field, a radio group (priority), a checkbox (urgent), a select (team)
and a multi-select (labels)."""

from django.db import models


class Label(models.Model):
    name = models.CharField(max_length=40)

    def __str__(self) -> str:
        return self.name


class Ticket(models.Model):
    PRIORITIES = (("low", "Low"), ("normal", "Normal"), ("high", "High"))
    TEAMS = (("billing", "Billing"), ("shipping", "Shipping"), ("returns", "Returns"))

    title = models.CharField(max_length=100)
    priority = models.CharField(max_length=10, choices=PRIORITIES, default="normal")
    urgent = models.BooleanField(default=False)
    team = models.CharField(max_length=10, choices=TEAMS, default="billing")
    labels = models.ManyToManyField(Label, blank=True)

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        # Without its trailing slash on purpose: CommonMiddleware's APPEND_SLASH adds a hop.
        return f"/tickets/{self.pk}"
