"""The verticals the programme knows from the start."""

from django.db import migrations

VERTICALS = [
    ("government", "Government and administration"),
    ("commerce", "Commerce"),
    ("food_beverage", "Food and beverage"),
    ("retail", "Retail"),
    ("finance", "Finance"),
    ("travel", "Travel"),
    ("media", "Media"),
    ("education", "Education"),
    ("healthcare", "Healthcare"),
]


def create_verticals(apps, schema_editor):
    Vertical = apps.get_model("accounts", "Vertical")
    for code, name in VERTICALS:
        Vertical.objects.get_or_create(code=code, defaults={"name": name})


def remove_verticals(apps, schema_editor):
    Vertical = apps.get_model("accounts", "Vertical")
    Vertical.objects.filter(code__in=[code for code, _ in VERTICALS], official_accounts__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial")]

    operations = [migrations.RunPython(create_verticals, remove_verticals)]
