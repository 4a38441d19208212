from __future__ import annotations

from decimal import Decimal

from django import template

register = template.Library()


@register.filter
def usd(value: Decimal | float | int | None) -> str:
    """``$1,234.56``; negative amounts with a minus sign first; none as a dash."""
    if value is None or value == "":
        return "\u2013"
    amount = Decimal(str(value))
    text = f"${abs(amount):,.2f}"
    return f"\u2212{text}" if amount < 0 else text
