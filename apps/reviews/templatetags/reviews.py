from django import template

from apps.reviews.models import Pattern

register = template.Library()


@register.filter
def pattern_label(value: str) -> str:
    """The words for a framework outcome, e.g. "Proprietary API"."""
    try:
        return str(Pattern(value).label)
    except ValueError:
        return value or ""
