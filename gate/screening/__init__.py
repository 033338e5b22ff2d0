"""Restricted-party screening: the US Consolidated Screening List, parsed, indexed and matched.

Pure logic, no I/O: `lists` parses the published JSON and CSV forms, `normalize` turns a name into
comparable tokens, `matching` indexes a list and scores a name against it, `status` says what a
party's screening status is. The records live in `gate.store.screening_lists` (list versions),
`gate.store.screening_runs` (screening parties) and `gate.store.screening` (results, reviews); the
commands in `gate.cli.screening_cmd`. See docs/screening.md.
"""

from __future__ import annotations

DEFAULT_THRESHOLD = 88.0
"""A name scoring this much (0-100, after the country bonus) is a possible match."""

DEFAULT_MAX_LIST_AGE_DAYS = 30
"""A list older than this many days is reported as stale (`gate screening status`)."""
