"""Fuzz the API from its own OpenAPI schema: whatever a client sends, never a 500."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error, response_schema_conformance, status_code_conformance

EXAMPLES_PER_OPERATION = 30


@pytest.fixture(scope="module")
def api_schema(run_dir, store_path, tmp_path_factory):
    from cinerec.serving.api import create_app

    app = create_app(run_dir, store_path, profiles=tmp_path_factory.mktemp("fuzz") / "profiles.sqlite")
    return schemathesis.openapi.from_asgi("/openapi.json", app)


@pytest.mark.slow
def test_no_server_errors(api_schema):
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 9
    for op in operations:
        # Bounded and reproducible: a fixed number of examples per operation, no database.
        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=op.as_strategy())
        def check(case):
            # Never a 5xx; every answer of a status the schema declares, in its declared shape.
            case.call_and_validate(checks=[not_a_server_error, response_schema_conformance, status_code_conformance])

        check()
