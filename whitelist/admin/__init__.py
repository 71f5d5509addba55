"""Staff screens: the review queue, decisions with reasons, policies, reason codes and entries.

Each module registers its screens when imported; importing them here is what admin autodiscovery needs.
"""

from .applications import DecisionForm, RecommendationFilter, WhitelistApplicationAdmin
from .entries import WhitelistEntryAdmin, WhitelistEntryEventInline
from .policies import CriteriaPolicyAdmin, PolicyForm, PolicyPreviewAdmin
from .reviews import ReasonCodeAdmin, ReviewEventAdmin, TransitionFilter

__all__ = [
    "CriteriaPolicyAdmin",
    "DecisionForm",
    "PolicyForm",
    "PolicyPreviewAdmin",
    "ReasonCodeAdmin",
    "RecommendationFilter",
    "ReviewEventAdmin",
    "TransitionFilter",
    "WhitelistApplicationAdmin",
    "WhitelistEntryAdmin",
    "WhitelistEntryEventInline",
]
