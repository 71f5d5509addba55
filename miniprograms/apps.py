"""Mini programs, their profile links and the hourly share quota."""

from django.apps import AppConfig


class MiniprogramsConfig(AppConfig):
    name = "miniprograms"
