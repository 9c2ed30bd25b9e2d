"""Paths of plain names (`$.a.b`, `a.b`) are read without the JSONPath and JMESPath interpreters:
what they find must be what jsonpath-ng and jmespath themselves find, in every shape of answer."""

from __future__ import annotations

from typing import Any

import jmespath
import pytest
from jsonpath_ng.ext import parse as parse_jsonpath

from cxe_gate.errors import ProviderError
from cxe_gate.providers.json_paths import Answer, _found, _names

BODIES: list[Any] = [
    {"a": {"b": 3}},
    {"a": {"b": None}},
    {"a": {"b": [1, 2]}},
    {"a": {"b": {"c": "x"}}},
    {"a": None},
    {"a": [{"b": 1}, {"b": 2}]},
    {"a": "text"},
    {"a": 5},
    {"other": 1},
    [{"a": {"b": 1}}],
    "a",
    None,
    {"a-b": {"c": 4}, "a": {"b": True}},
]
PATHS = ["$.a.b", "$.a", "$['a-b'].c", "a.b", "a", '"a-b".c', "a.b.c", "$.a.b.c"]


def library(path: str, body: Any) -> list[Any]:
    """What the libraries find, as Answer reads it: JSONPath every match's value, JMESPath its
    result (None nothing, a list its items)."""
    if path.startswith("$"):
        return [match.value for match in parse_jsonpath(path).find(body)]
    result = jmespath.search(path, body)
    if result is None:
        return []
    return result if isinstance(result, list) else [result]


@pytest.mark.parametrize("path", PATHS)
def test_plain_names_are_read_as_the_libraries_read_them(path: str):
    assert _names(path) is not None  # the fast way is the one under test
    for body in BODIES:
        assert _found(path, body) == library(path, body), (path, body)


@pytest.mark.parametrize(
    "path", ["$.a[0]", "$..b", "$.a[*].b", "a[0].b", "a[*].b", "$.*", "a.b[0]"]
)
def test_other_paths_are_left_to_the_libraries(path: str):
    assert _names(path) is None
    for body in BODIES:
        assert _found(path, body) == library(path, body), (path, body)


def error(message: str) -> ProviderError:
    return ProviderError(message, provider="api")


def test_counts_and_numbers_through_plain_names():
    answer = Answer({"data": {"requests": "1000", "errors": 4, "gone": None}}, error)
    # "1000" is a number written as text, as many APIs send them; null is no data.
    assert answer.count("data.requests") == 1000
    assert answer.count("$.data.errors") == 4
    assert answer.number("data.gone") is None
    assert answer.number("$.data.missing") is None
    with pytest.raises(ProviderError, match=r"data matched \{"):
        answer.number("data")


def test_a_jmespath_function_given_the_wrong_type_is_an_error_naming_the_path():
    answer = Answer({"a": None}, error)
    # length() takes a string, an array or an object; null is none of them.
    with pytest.raises(
        ProviderError, match=r"^length\(a\) cannot be read from this answer: In func"
    ):
        answer.number("length(a)")
