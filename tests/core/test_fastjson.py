"""fastjson reads what the standard library reads (orjson, and json where orjson refuses
NaN or Infinity) and writes lines the standard library reads back to the same values."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tokenprobe.backends.server_errors import ServerError, parse_json
from tokenprobe.fastjson import dumps_line, loads

VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(), inner, max_size=5),
    max_leaves=30,
)


@given(VALUES)
def test_loads_and_dumps_agree_with_the_standard_library(value: object) -> None:
    text = json.dumps(value, ensure_ascii=False)
    assert loads(text) == json.loads(text)
    line = dumps_line(value)
    assert line.endswith(b"\n") and b"\n" not in line[:-1]
    assert json.loads(line) == value


def test_nan_and_infinity_that_python_servers_write_are_read() -> None:
    doc = loads('{"logprob": -Infinity, "x": NaN, "y": [Infinity]}')
    assert doc["logprob"] == -math.inf and math.isnan(doc["x"]) and doc["y"] == [math.inf]


def test_escapes_are_read_and_a_huge_integer_is_never_another_integer() -> None:
    from tokenprobe.formats.wire_values import opt_int

    text = '{"s": "\\ud83d\\ude00 <\\u2028>", "id": 123456789012345678901234567890}'
    doc = loads(text)
    assert doc["s"] == json.loads(text)["s"]
    # Past 64 bits orjson gives a float: a reader wanting an id takes it as not given.
    assert opt_int(doc["id"]) in (None, 123456789012345678901234567890)


def test_a_body_that_is_not_json_is_one_line() -> None:
    with pytest.raises(ServerError) as e:
        parse_json('{"choices": [', "the server at http://127.0.0.1:9")
    assert "not JSON" in str(e.value) and "\n" not in str(e.value)


def test_a_non_finite_logit_row_is_refused() -> None:
    import numpy as np

    from tokenprobe.distribution import RowAnalyzer
    from tokenprobe.errors import ModelError

    row = np.zeros(50, dtype=np.float32)
    row[3] = np.nan
    with pytest.raises(ModelError, match="not a finite number"):
        RowAnalyzer(50).analyze(row, 5)
