"""The demo's price history covers the monthly contract quotes in force on its first day."""

from __future__ import annotations

import datetime as dt

import pytest

from models.market import monthly_quote_day


@pytest.mark.parametrize(("day", "quoted"), [
    ("2026-03-01", "2026-02-02"),  # a Sunday before March's first business day: February's quote
    ("2026-03-02", "2026-03-02"),
    ("2026-03-05", "2026-03-02"),
    ("2026-08-01", "2026-07-01"),  # a Saturday: July's quote
    ("2026-08-03", "2026-08-03"),
    ("2026-01-01", "2026-01-01"),
])
def test_the_monthly_quote_in_force(day, quoted):
    assert monthly_quote_day(dt.date.fromisoformat(day)) == dt.date.fromisoformat(quoted)
