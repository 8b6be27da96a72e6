"""Every model module, imported once, so Base.metadata knows every table.

Alembic's env.py and the tests import this module; a job whose models live in a module of its
own adds that module here.
"""

from storage import (
    broadcast_models,
    followup_models,
    job_models,
    models,
    recurring_models,
    redaction_models,
    stats_cache_models,
    survey_models,
    vote_comment_models,
    web_models,
    worker_models,
)
from storage.models import Base

__all__ = [
    "Base",
    "broadcast_models",
    "followup_models",
    "job_models",
    "models",
    "recurring_models",
    "redaction_models",
    "stats_cache_models",
    "survey_models",
    "vote_comment_models",
    "web_models",
    "worker_models",
]
