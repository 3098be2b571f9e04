"""Domain errors become GraphQL errors with a code; anything unexpected is logged and
answered without detail."""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

import pytest
from fastapi import FastAPI
from graphql import GraphQLError

from mairust.api.graphql.errors import code_for, presented
from mairust.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    MairustError,
    NotFound,
    StorageUnavailable,
    Unauthenticated,
)
from mairust.model.principal import Principal
from mairust.services.application import Application
from mairust.services.mailboxes import MailboxService
from mairust.storage.stores import Stores
from tests.mairust.api.graphql.conftest import GraphQL, World


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (NotFound("no such entry: x"), "NOT_FOUND"),
        (Forbidden("this token lacks 'write'"), "FORBIDDEN"),
        (InvalidInput("bad"), "BAD_USER_INPUT"),
        (Unauthenticated("expired"), "UNAUTHENTICATED"),
        (Conflict("exists"), "CONFLICT"),
        (StorageUnavailable("down"), "UNAVAILABLE"),
        (MairustError("some new kind"), "INTERNAL_SERVER_ERROR"),
    ],
)
def test_codes(error: MairustError, code: str) -> None:
    assert code_for(error) == code
    shown = presented(GraphQLError(str(error), original_error=error, path=["message"]))
    assert shown.extensions == {"code": code}
    assert shown.path == ["message"]


def test_a_domain_error_keeps_its_message() -> None:
    shown = presented(GraphQLError("x", original_error=NotFound("no such entry: 01AB")))
    assert shown.message == "no such entry: 01AB"


def test_an_unexpected_error_is_logged_and_masked(caplog: pytest.LogCaptureFixture) -> None:
    secret = RuntimeError("password=hunter2 at db.internal")
    with caplog.at_level(logging.ERROR, logger="mairust.api.graphql.errors"):
        shown = presented(GraphQLError(str(secret), original_error=secret, path=["messages"]))
    assert shown.message == "Unexpected error."
    assert shown.extensions == {"code": "INTERNAL_SERVER_ERROR"}
    assert "hunter2" not in str(shown.formatted)
    assert caplog.records and caplog.records[0].exc_info is not None


def test_errors_before_execution_are_validation_failures() -> None:
    shown = presented(GraphQLError("Cannot query field 'nope' on type 'Query'."))
    assert shown.extensions == {"code": "GRAPHQL_VALIDATION_FAILED"}
    assert shown.message == "Cannot query field 'nope' on type 'Query'."


class _FailingMailboxes(MailboxService):
    """A service that fails the way a bug would (the fake enters through the app's state)."""

    def read(self, principal: Principal, entry_id: str) -> Any:
        raise RuntimeError("password=hunter2 at db.internal")


@pytest.mark.in_process_only("swaps the app's mailbox service for a failing one")
async def test_through_the_endpoint_an_unexpected_failure_is_masked(
    graphql: GraphQL, world: World, app: FastAPI, stores: Stores, caplog: pytest.LogCaptureFixture
) -> None:
    application: Application = app.state.application
    app.state.application = dataclasses.replace(application, mailboxes=_FailingMailboxes(stores))
    with caplog.at_level(logging.ERROR, logger="mairust.api.graphql.errors"):
        answer = await graphql(
            "query($id: ID!) { message(id: $id) { id } mailboxes { address } }",
            {"id": world.reply.id},
        )
    assert answer.codes == ["INTERNAL_SERVER_ERROR"]
    assert answer.errors[0]["message"] == "Unexpected error."
    assert "hunter2" not in str(answer.errors)
    # The other field still answers: the failure is confined to its own field.
    assert answer.data == {
        "message": None,
        "mailboxes": [{"address": "alice@a.example"}, {"address": "amos@a.example"}],
    }
    assert any("hunter2" in str(r.exc_info) for r in caplog.records)
