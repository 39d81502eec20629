"""JSON columns' codec (``db/json_codec.py``) reads back what ``json`` would have."""

from __future__ import annotations

import json
import math
from typing import Any

from loopwright.db import json_codec

VALUES: list[Any] = [
    {"text": "naïve café — 東京 🚀", "n": 2**70, "f": 0.1, "neg": -1e-7, "none": None},
    [1, "two", [3.5, {"four": True}], {}],
    {"nan": math.nan, "inf": math.inf, "-inf": -math.inf},
    'a string with "quotes", \\ and a\nnewline\u2028',
]


def same(a: Any, b: Any) -> bool:
    """Equal, counting NaN equal to NaN."""
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def test_values_read_back_as_json_reads_them() -> None:
    for value in VALUES:
        text = json_codec.dumps(value)
        assert same(json_codec.loads(text), value)
        assert same(json.loads(text), value)  # json reads what the codec wrote
        assert same(json_codec.loads(json.dumps(value)), value)  # and rows written before


def test_nan_and_infinities_are_kept_not_nulled() -> None:
    text = json_codec.dumps({"nan": math.nan, "inf": math.inf})
    assert text == '{"nan":NaN,"inf":Infinity}'
    assert math.isnan(json_codec.loads(text)["nan"])
