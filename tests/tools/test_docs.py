"""The values.yaml comment parser and schema generator on small inputs."""

import pytest

from chart_tools.chart import docs

SAMPLE = """\
# header comment, not attached

# -- Top description
# continues here.
top:
  # -- A number.
  # @schema minimum: 1
  count: 3
  # -- Names.
  # @schema items: {type: string}
  names: []
  # -- Free map.
  # @schema additionalProperties: {type: string}
  labels: {}
"""


def test_comments_attach_to_the_key_below():
    parsed = docs.parse_comments(SAMPLE)
    assert parsed["top"].description == "Top description continues here."
    assert parsed["top.count"].schema == {"minimum": 1}


def test_schema_types_come_from_defaults():
    schema = docs.build_schema(SAMPLE)
    top = schema["properties"]["top"]
    assert top["additionalProperties"] is False
    assert top["properties"]["count"] == {"description": "A number.", "minimum": 1, "type": "integer"}
    assert top["properties"]["names"]["items"] == {"type": "string"}
    assert top["properties"]["labels"]["additionalProperties"] == {"type": "string"}


def test_undocumented_key_is_an_error():
    with pytest.raises(docs.DocsError, match=r"`top\.hidden` has no"):
        docs.build_schema("# -- Top.\ntop:\n  hidden: 1\n")


def test_list_without_items_is_an_error():
    with pytest.raises(docs.DocsError, match="items"):
        docs.build_schema("# -- A list.\nthings: []\n")


def test_table_lists_leaves_with_defaults():
    table = docs.values_table(SAMPLE)
    assert "| `top.count` | integer | `3` | A number. |" in table
    assert "| `top.labels` | object | `{}` | Free map. |" in table


def test_schema_lines_form_one_yaml_block():
    text = """\
# -- Items.
# @schema items:
# @schema   type: object
# @schema   required: [name]
# @schema minItems: 1
items: []
"""
    schema = docs.build_schema(text)["properties"]["items"]
    assert schema["items"] == {"type": "object", "required": ["name"]}
    assert schema["minItems"] == 1
