"""``{% ohif_study_url study as url %}``: where a study opens in the OHIF Viewer, if installed."""

from __future__ import annotations

from django import template

from ..models import Study
from ..viewer.ohif import ohif_study_url as _ohif_study_url

register = template.Library()


@register.simple_tag
def ohif_study_url(study: Study) -> str:
    """The study's OHIF address; empty when MEDASSIST_OHIF_DIR is not set (no link)."""
    return _ohif_study_url(study.study_instance_uid) or ""
