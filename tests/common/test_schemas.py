"""The schema base every feature's schemas are declared on: text and integers that cannot break
what comes after them, for fields at any depth."""

from __future__ import annotations

import pytest
from marshmallow import ValidationError, fields

from evac.common.schemas import Schema, text_problem


class Inner(Schema):
    name = fields.String()
    note = fields.String(metadata={"multiline": True})


class Outer(Schema):
    id = fields.Integer()
    ids = fields.List(fields.Integer())
    tags = fields.List(fields.String())
    inner = fields.Nested(Inner)
    uid = fields.UUID()


@pytest.mark.parametrize("value", ["a\x00", "\x01", "a\x1fb", "a\x7f", "a\nb", "a\tb", "a\rb", "\ud800", "a\udfffb"])
def test_short_text_refuses_control_characters_and_lone_surrogates(value: str) -> None:
    assert text_problem(value)
    with pytest.raises(ValidationError) as caught:
        Outer().load({"inner": {"name": value}})
    assert "name" in caught.value.messages["inner"]
    with pytest.raises(ValidationError):
        Outer().load({"tags": ["ok", value]})


def test_a_note_may_have_tabs_and_line_breaks_only() -> None:
    assert Outer().load({"inner": {"note": "一行目\r\n二行目\t終わり"}})["inner"]["note"].endswith("終わり")
    for value in ("a\x00", "a\x0b", "a\x1b", "\ud800"):
        with pytest.raises(ValidationError):
            Outer().load({"inner": {"note": value}})


@pytest.mark.parametrize("value", ["精華 花子", "ｾｲｶ ﾊﾅｺ", "𠮷野", "O'Brien-Smith", "", "👪"])
def test_ordinary_text_passes(value: str) -> None:
    assert text_problem(value) is None
    assert Outer().load({"inner": {"name": value}}) == {"inner": {"name": value}}


@pytest.mark.parametrize("body", [{"id": 1.5}, {"id": 2.0}, {"ids": [1, 2.5]}, {"id": True}])
def test_integers_are_not_fractions(body: dict) -> None:
    with pytest.raises(ValidationError) as caught:
        Outer().load(body)
    assert set(caught.value.messages) == set(body)


def test_integers_as_query_strings_still_parse() -> None:
    assert Outer().load({"id": "7", "ids": ["1", 2]}) == {"id": 7, "ids": [1, 2]}


def test_a_uuid_field_is_not_checked_as_text() -> None:
    assert Outer().load({"uid": "0b7f3e3a-6a1e-4b8e-9d37-2f1f0a7b9c11"})["uid"].hex.startswith("0b7f")


def test_each_schema_instance_checks_a_string_once() -> None:
    # Field copies share the class's validator list: a check appended at every bind made each
    # request (one schema instance) slower than the one before, all day long.
    for _ in range(5):
        schema = Inner()
    assert sum(1 for v in schema.fields["note"].validators if type(v).__name__ == "_PlainText") == 1
    assert sum(1 for v in Inner._declared_fields["note"].validators if type(v).__name__ == "_PlainText") <= 1
