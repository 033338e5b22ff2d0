"""The pure parts of the request limits: JSON depth and text checks, the rate limiter."""

from __future__ import annotations

import pytest

from gate.errors import InputError, RateLimited
from gate.server.limits import RateLimiter, parse_json_body


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    text = "[" * 10_000 + '\\"{' * 100
    value = parse_json_body(('{"name": "' + text + '"}').encode())
    assert value == {"name": "[" * 10_000 + '"{' * 100}


@pytest.mark.parametrize(
    "raw",
    [
        b"[" * 17 + b"]" * 17,
        b'{"a": ' * 17 + b"1" + b"}" * 17,
        b'{"a": "\\ud800"}',
        b'{"\\udfff": 1}',
        b'["\\ud83d"]',
        b"\xff",
        b'{"a": 1',
    ],
)
def test_bad_bodies_are_input_errors(raw: bytes) -> None:
    with pytest.raises(InputError):
        parse_json_body(raw)


def test_sixteen_levels_and_real_surrogate_pairs_are_fine() -> None:
    assert parse_json_body(b"[" * 16 + b"]" * 16) == [[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]  # fmt: skip
    assert parse_json_body(b'{"a": "\\ud83d\\ude00"}') == {"a": "\U0001f600"}


def test_rate_limiter_bursts_refills_and_stays_bounded() -> None:
    now = [0.0]
    limiter = RateLimiter(burst=3, per_minute=6, max_keys=100, clock=lambda: now[0])
    for _ in range(3):
        limiter.take("a", "answers")
    with pytest.raises(RateLimited) as err:
        limiter.take("a", "answers")
    assert err.value.http_status == 429 and 9 <= err.value.retry_after <= 11
    limiter.take("b", "answers")  # another key has its own bucket
    now[0] += 10.0  # 6 a minute: one token back after 10 s
    limiter.take("a", "answers")
    with pytest.raises(RateLimited):
        limiter.take("a", "answers")
    for i in range(10_000):
        limiter.take(f"key-{i}", "answers")
    assert len(limiter._buckets) == 100
