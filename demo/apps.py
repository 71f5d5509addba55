from django.apps import AppConfig


class DemoConfig(AppConfig):
    """The seeders (seed_demo, seed_scale): tooling on top of every app, never imported by one."""

    name = "demo"
    verbose_name = "Demo and scale data"
