"""Numbers for people: durations in hours and minutes, counts with thousands separators, shares as percentages."""

from django import template

register = template.Library()


@register.filter
def duration(seconds) -> str:
    """4_210 -> "1 h 10 min"; 75 -> "1 min 15 s"; 42.5 -> "43 s"."""
    if seconds is None or seconds == "":
        return "–"
    seconds = round(float(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours:,} h {minutes} min"
    if minutes:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    return f"{secs} s"


@register.filter
def count(value) -> str:
    return "–" if value is None or value == "" else f"{value:,}"


@register.filter
def share(value) -> str:
    """0.5347 -> "53.5 %" (a ratio)."""
    return "–" if value is None or value == "" else f"{float(value) * 100:.1f} %"


@register.filter
def percent(value) -> str:
    """53.47 -> "53.5 %" (already a percentage)."""
    return "–" if value is None or value == "" else f"{float(value):.1f} %"
