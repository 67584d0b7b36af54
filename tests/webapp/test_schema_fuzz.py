"""No input gives a 500, and every answer is the one documented: schemathesis generates requests
for every operation of the running webapp's OpenAPI schema (valid ones and invalid ones), with a
token; none may answer 5xx, and each answer's status, content type (problem details for errors)
and body must match the schema (the demo store, a stand-in shop, only must not 5xx). The event
streams never end, so they are left to their own tests.

A real ``python -m webapp`` on Postgres and Redis (no worker: queued tasks stay queued), reached
over HTTP. Each operation gets a bounded number of examples per mode, so the run stays short.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.failures import FailureGroup
from schemathesis.generation import GenerationMode

from tests.conftest import REDIS_URL, Proc, StartWebapp

# per operation and mode; TASKDECK_TEST_FUZZ_EXAMPLES=500 for a deeper hunt
EXAMPLES = int(os.environ.get("TASKDECK_TEST_FUZZ_EXAMPLES", "15"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture
async def served(pg_url: str, db: Any, redis_queue: str, start_webapp: StartWebapp) -> Proc:
    proc: Proc = await start_webapp(DATABASE_URL=pg_url, REDIS_URL=REDIS_URL, TASKDECK_QUEUE_NAME=redis_queue)
    return proc


@pytest.mark.slow
@pytest.mark.timeout(900)  # about 30 s on an idle machine; shared CI cores are slower
def test_no_request_gets_a_5xx_and_every_answer_matches_the_schema(
    served: Proc, signed_in: dict[str, str]
) -> None:
    schema = schemathesis.openapi.from_url(f"{served.url}/openapi.json")
    headers = signed_in  # the bearer token of the suite's user where the API has users
    operations = [result.ok() for result in schema.get_all_operations()]
    operations = [op for op in operations if not op.path.endswith("/events/stream")]
    assert any(op.path == "/api/tasks" for op in operations), [op.path for op in operations]
    failures: list[str] = []
    for operation in operations:
        checks = CHECKS if operation.path.startswith("/api/") else [not_a_server_error]
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                phases=[Phase.explicit, Phase.generate, Phase.shrink],
                suppress_health_check=list(HealthCheck),
            )
            def check(case: Any) -> None:
                # run at once, inside this iteration: the loop's `checks` is the one meant
                case.call_and_validate(headers=headers, checks=checks, timeout=30)  # noqa: B023

            try:
                check()
            except Unsatisfiable:  # nothing to get wrong (no parameters, or none with a constraint)
                continue
            except FailureGroup as found:  # collect every operation's failures, then report them all
                failures.append(f"{operation.label} ({mode.value}): {found}")
    assert not failures, "\n\n".join(failures)
