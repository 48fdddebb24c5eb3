"""Template tags of the study viewer partial (templates/imaging/_viewer.html)."""

from __future__ import annotations

from django import template

from ..models import NonImageInstance, Study
from ..viewer.selectors import viewer_non_images

register = template.Library()


@register.simple_tag
def study_non_images(study: Study) -> list[NonImageInstance]:
    """The study's non-image objects (reports, documents, waveforms...), to list them."""
    return list(viewer_non_images(study_id=study.pk))
