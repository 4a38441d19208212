"""Tags the shared layout needs: which plotly.js bundle to load."""

from django import template
from django.conf import settings
from django.templatetags.static import static

register = template.Library()


@register.simple_tag
def plotly_src() -> str:
    """The URL of the plotly.js bundle settings.PLOTLY_JS names (basic or full)."""
    return static(settings.PLOTLY_JS)
