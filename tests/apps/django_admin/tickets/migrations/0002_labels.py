from django.db import migrations

LABELS = ["bug", "refund", "vip", "press"]


def add_labels(apps, schema_editor):
    Label = apps.get_model("tickets", "Label")
    for name in LABELS:
        Label.objects.create(name=name)


class Migration(migrations.Migration):
    dependencies = (("tickets", "0001_initial"),)
    operations = (migrations.RunPython(add_labels, migrations.RunPython.noop),)
