"""values.schema.json: draft-07, strict everywhere, documented, current, and enforced by helm."""

import json

import jsonschema
import pytest
import yaml

from chart_tools import CHART
from chart_tools.chart import docs
from chart_tools.chart.render import RenderError, render

SCHEMA = json.loads((CHART / "values.schema.json").read_text())


def walk(schema, path="(root)"):
    """Every sub-schema with its path."""
    yield path, schema
    for key, sub in schema.get("properties", {}).items():
        yield from walk(sub, f"{path}.{key}")
    for key, sub in schema.get("definitions", {}).items():
        yield from walk(sub, f"#{key}")
    for keyword in ("items", "additionalProperties"):
        if isinstance(schema.get(keyword), dict):
            yield from walk(schema[keyword], f"{path}[{keyword}]")


def test_schema_is_draft_07():
    assert SCHEMA["$schema"] == "http://json-schema.org/draft-07/schema#"
    jsonschema.Draft7Validator.check_schema(SCHEMA)


def test_every_object_closes_its_properties():
    for path, sub in walk(SCHEMA):
        if sub.get("type") == "object" or "properties" in sub:
            assert "additionalProperties" in sub, path
            assert sub["additionalProperties"] is not True, path


def test_every_property_has_a_description():
    for path, sub in walk(SCHEMA):
        for key, prop in sub.get("properties", {}).items():
            assert prop.get("description"), f"{path}.{key}"


def test_defaults_validate_against_the_schema():
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    jsonschema.Draft7Validator(SCHEMA).validate(values)


def test_generated_files_are_current():
    stale = [str(p) for p, content in docs.expected_files().items() if p.read_text() != content]
    assert not stale, f"run `make docs`: stale {stale}"


@pytest.mark.parametrize(
    ("override", "names"),
    [
        ("cluster.bogus=1", ("bogus",)),
        ("base.database.postgres.sizee=1", ("sizee",)),
        ("bogusTopLevel=1", ("bogusTopLevel",)),
        ("cluster.apiServer.replicas=many", ("replicas",)),
        ("cluster.executor=SequentialExecutor", ("executor", "LocalExecutor")),
        ("base.database.type=mongodb", ("type",)),
    ],
)
def test_bad_values_fail_naming_the_key(helm_major, override, names):
    with pytest.raises(RenderError) as err:
        render(set_values=[override], helm_major=helm_major)
    for name in names:
        assert name in str(err.value)
