"""Simplified Chinese number formats: figures grouped by thousands (540,000), as in English.

Django's own zh_Hans formats leave numbers ungrouped; only what is set here overrides them.
"""

DECIMAL_SEPARATOR = "."
THOUSAND_SEPARATOR = ","
NUMBER_GROUPING = 3
