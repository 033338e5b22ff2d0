"""The version of the decision procedure: changed whenever the code's reading of the rule changes.

Every decision names it beside each ruleset's id and hash, so `gate replay` can tell a decision
that changed because the rule (data) changed from one that changed because the code did.
"""

from __future__ import annotations

PROCEDURE_VERSION = "2026-12-01"
"""RULES.md as revised for issue 12: territories, regions, declared destinations, domestic
transfers, licenses by recipient id, the ear-embargoes procedure and rulesets combined."""
