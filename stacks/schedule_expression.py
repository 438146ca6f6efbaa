"""EventBridge schedule expressions checked at synth, so a bad one fails `cdk synth`, not `cdk deploy`.

The rules are EventBridge's documented ones ("Cron expressions reference" and "Rate
expressions", https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-scheduled-rule-pattern.html):
- rate(value unit): value a positive whole number; unit minute, hour or day, singular when the
  value is 1 and plural otherwise.
- cron(minutes hours day-of-month month day-of-week year): six fields; values 0-59, 0-23, 1-31,
  1-12 or JAN-DEC, 1-7 or SUN-SAT, 1970-2199; wildcards `, - * /` everywhere, `?` only in the
  two day fields, `L` in both day fields, `W` in day-of-month, `#` in day-of-week (one expression
  only); exactly one of the two day fields is `?`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_RATE = re.compile(r"^rate\((\S+) (\S+)\)$")
_CRON = re.compile(r"^cron\((.*)\)$")
_RATE_UNITS = ("minute", "hour", "day")
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")


class ScheduleError(ValueError):
    """Why an expression is not one EventBridge accepts; one line."""


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()

    def value(self, text: str) -> int:
        upper = text.upper()
        if upper in self.names:
            return self.names.index(upper) + 1
        if not text.isdigit() or not self.low <= int(text) <= self.high:
            allowed = f"{self.low}-{self.high}" + (f" or {self.names[0]}-{self.names[-1]}" if self.names else "")
            raise ScheduleError(f"{self.name} value {text!r} is not in {allowed}")
        return int(text)


_FIELDS = (
    _Field("minutes", 0, 59),
    _Field("hours", 0, 23),
    _Field("day-of-month", 1, 31),
    _Field("month", 1, 12, _MONTHS),
    _Field("day-of-week", 1, 7, _DAYS),
    _Field("year", 1970, 2199),
)


def check_schedule(expression: str) -> None:
    """Raise ScheduleError unless expression is an EventBridge rate() or cron() expression."""
    rate = _RATE.match(expression)
    if rate is not None:
        _check_rate(rate.group(1), rate.group(2))
        return
    cron = _CRON.match(expression)
    if cron is not None:
        _check_cron(cron.group(1))
        return
    raise ScheduleError("expected rate(<value> <unit>) or cron(<six fields>)")


def _check_rate(value: str, unit: str) -> None:
    if not value.isdigit() or int(value) < 1:
        raise ScheduleError(f"rate value {value!r} is not a positive whole number")
    singular = unit.rstrip("s") if unit.endswith("s") else unit
    if singular not in _RATE_UNITS:
        raise ScheduleError(f"rate unit {unit!r} is not minute(s), hour(s) or day(s)")
    expected = singular if int(value) == 1 else singular + "s"
    if unit != expected:
        raise ScheduleError(f"rate({value} {unit}) must be written rate({value} {expected})")


def _check_cron(body: str) -> None:
    parts = body.split()
    if len(parts) != len(_FIELDS) or body != " ".join(parts):
        raise ScheduleError(
            f"cron needs six fields separated by single spaces (minutes hours day-of-month month day-of-week year), "
            f"got {len(parts)}"
        )
    for field, text in zip(_FIELDS, parts, strict=True):
        _check_cron_field(field, text)
    day_of_month, day_of_week = parts[2], parts[4]
    if (day_of_month == "?") == (day_of_week == "?"):
        raise ScheduleError("exactly one of day-of-month and day-of-week must be '?'")


def _check_cron_field(field: _Field, text: str) -> None:
    day_field = field.name in ("day-of-month", "day-of-week")
    if text == "?":
        if not day_field:
            raise ScheduleError(f"'?' is allowed only in day-of-month or day-of-week, not {field.name}")
        return
    if field.name == "day-of-week" and "#" in text:
        match = re.fullmatch(r"([^#,]+)#([1-5])", text)
        if match is None:
            raise ScheduleError(f"day-of-week {text!r}: '#' takes one day and a week 1-5, e.g. 3#2")
        field.value(match.group(1))
        return
    for item in text.split(","):
        _check_cron_item(field, item)


def _check_cron_item(field: _Field, item: str) -> None:
    if field.name == "day-of-month" and re.fullmatch(r"L|LW|\d{1,2}W", item):
        if item.endswith("W") and item != "LW":
            field.value(item[:-1])
        return
    if field.name == "day-of-week" and re.fullmatch(r"\w*L", item):
        if item != "L":
            field.value(item[:-1])
        return
    base, _, step = item.partition("/")
    if step and field.name == "day-of-week":
        raise ScheduleError("day-of-week takes no '/' increment")
    if step and (not step.isdigit() or int(step) < 1):
        raise ScheduleError(f"{field.name} increment {step!r} is not a positive whole number")
    if base == "*":
        return
    start, _, end = base.partition("-")
    field.value(start)
    if end:
        field.value(end)
