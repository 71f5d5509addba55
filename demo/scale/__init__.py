"""The scale seed behind `manage.py seed_scale`: its plan, its rows, how they are copied in, and --clean."""
