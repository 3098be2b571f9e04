"""The .proto against the JSON wire models, so that the two cannot drift apart: every field
of each pydantic model has its proto field of the same name and the other way round, a
field that may be absent (None) has presence in the proto, every field of a request and
a response survives the round trip through the proto unchanged, and the committed
generated module is what protoc makes of the .proto today."""

from __future__ import annotations

import base64
import subprocess
import sys
import types
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Union, get_args, get_origin

import pytest
from google.protobuf import descriptor_pb2
from google.protobuf.descriptor import FieldDescriptor
from pydantic import BaseModel, ValidationError

from mairust.hooks.grpc_wire import (
    request_from_proto,
    request_to_proto,
    response_from_proto,
    response_to_proto,
)
from mairust.hooks.payload import build_request
from mairust.hooks.points import DataScope, HookPoint
from mairust.hooks.proto import PROTO_DIR, PROTO_FILE
from mairust.hooks.proto import mairust_hook_v1_pb2 as pb
from mairust.hooks.wire import (
    AttachmentView,
    EnvelopeEdit,
    EnvelopeView,
    HeaderEdit,
    HookRequest,
    HookResponse,
)
from mairust.model.message import Envelope

# Each wire model and its proto message.
PAIRS: list[tuple[type[BaseModel], Any]] = [
    (HookRequest, pb.HookRequest.DESCRIPTOR),
    (EnvelopeView, pb.EnvelopeView.DESCRIPTOR),
    (AttachmentView, pb.AttachmentView.DESCRIPTOR),
    (HookResponse, pb.HookResponse.DESCRIPTOR),
    (HeaderEdit, pb.HeaderEdit.DESCRIPTOR),
    (EnvelopeEdit, pb.EnvelopeEdit.DESCRIPTOR),
]


def _nullable(annotation: Any) -> bool:
    return get_origin(annotation) in (Union, types.UnionType) and type(None) in get_args(annotation)


@pytest.mark.parametrize(("model", "message"), PAIRS, ids=lambda p: getattr(p, "__name__", ""))
def test_every_wire_field_has_its_proto_field_and_back(
    model: type[BaseModel], message: Any
) -> None:
    assert set(model.model_fields) == set(message.fields_by_name), model.__name__
    for name, info in model.model_fields.items():
        field = message.fields_by_name[name]
        is_list = get_origin(info.annotation) is list or (
            _nullable(info.annotation)
            and any(get_origin(arg) is list for arg in get_args(info.annotation))
        )
        if _nullable(info.annotation):
            # Absent must stay absent: an optional scalar or a (wrapper) message.
            assert field.has_presence, f"{model.__name__}.{name} needs presence"
        if is_list and _nullable(info.annotation):
            assert field.type == FieldDescriptor.TYPE_MESSAGE, name  # HeaderList, ...
            assert field.message_type.fields_by_name["items"].is_repeated, name
        elif is_list:
            assert field.is_repeated, f"{model.__name__}.{name} is a list"


FULL_REQUEST = HookRequest(
    point=HookPoint.POST_RECEIVE,
    message_id="m-1",
    scopes=list(DataScope),
    envelope=EnvelopeView(
        client_ip="192.0.2.9",
        helo="client.example",
        mail_from="s@remote.example",
        rcpt_tos=["a@example.test", "b@example.test"],
        authenticated_as="s@remote.example",
    ),
    headers=[("Subject", "hi"), ("X-Empty", "")],
    body_preview="hello",
    body_base64=base64.b64encode(b"whole message").decode(),
    attachments=[
        AttachmentView(
            index=0,
            filename="a.pdf",
            content_type="application/pdf",
            size=3,
            content_base64=base64.b64encode(b"pdf").decode(),
        )
    ],
    callback_url="http://127.0.0.1:1/cb",
    callback_token="tok",
)
FULL_RESPONSE = HookResponse.model_validate(
    {
        "verdict": "reject",
        "reason": "because",
        "reply": "554 5.7.1 No",
        "tags": ["a", "b"],
        "folder": "Junk",
        "headers": [
            {"action": "add", "name": "X-A", "value": "1"},
            {"action": "delete", "name": "X-B", "occurrence": 2},
        ],
        "envelope": [{"action": "add_recipient", "address": "c@example.test"}],
        "pending": True,
        "notes": {"summary": "Two lines.", "language": "fr"},
    }
)


def test_the_full_examples_leave_no_field_at_its_default() -> None:
    """So the round trips below cover every field (a new field must be added to them)."""
    for example in (FULL_REQUEST, FULL_RESPONSE, FULL_REQUEST.envelope):
        assert example is not None
        for name, info in type(example).model_fields.items():
            if name == "version":
                continue  # one value only (1)
            value = getattr(example, name)
            default = info.get_default(call_default_factory=True)
            assert value is not None and value != default, f"{name} left at default"
            assert value not in ([], "", False, {}), name


@pytest.mark.parametrize(
    "request_",
    [
        FULL_REQUEST,
        HookRequest(point=HookPoint.CONNECT, scopes=[]),  # everything absent
        HookRequest(point=HookPoint.PRE_RECEIVE, scopes=[], headers=[], attachments=[]),
        build_request(
            HookPoint.PRE_RECEIVE,
            set(DataScope),
            Envelope(
                mail_from="s@remote.example",
                rcpt_tos=("a@example.test",),
                received_at=datetime(2026, 1, 1, tzinfo=UTC),
                helo="h",
                client_ip="192.0.2.1",
            ),
            b"Subject: x\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n"
            b"\r\n--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b\r\nContent-Type: "
            b"application/octet-stream\r\nContent-Disposition: attachment; filename=x.bin\r\n"
            b"\r\nbits\r\n--b--\r\n",
        ),
    ],
    ids=["full", "empty", "empty-lists", "built"],
)
def test_a_request_round_trips_through_the_proto_unchanged(request_: HookRequest) -> None:
    on_the_wire = request_to_proto(request_).SerializeToString()
    back = request_from_proto(pb.HookRequest.FromString(on_the_wire))
    assert back == request_
    assert back.model_dump_json() == request_.model_dump_json()


@pytest.mark.parametrize("response", [FULL_RESPONSE, HookResponse()], ids=["full", "default"])
def test_a_response_round_trips_through_the_proto_unchanged(response: HookResponse) -> None:
    on_the_wire = response_to_proto(response).SerializeToString()
    assert response_from_proto(pb.HookResponse.FromString(on_the_wire)) == response


def test_an_empty_proto_answer_is_the_defaults_and_a_wrong_one_is_refused() -> None:
    assert response_from_proto(pb.HookResponse()) == HookResponse()
    with pytest.raises(ValidationError):
        response_from_proto(pb.HookResponse(version=0))  # said, and not 1
    with pytest.raises(ValidationError):
        response_from_proto(pb.HookResponse(headers=[pb.HeaderEdit(action="rename", name="X")]))


def test_the_committed_module_is_what_protoc_makes_of_the_proto(tmp_path: Path) -> None:
    """Compared as descriptors, not as text: a newer protoc writes other text for the same
    .proto, and what matters is that the schema the module carries is the .proto's."""
    out = tmp_path / "set.pb"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "grpc_tools.protoc",
            f"-I{PROTO_DIR}",
            f"--descriptor_set_out={out}",
            PROTO_FILE.name,
        ],
        check=True,
        cwd=PROTO_DIR,
    )
    generated = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes())
    [fresh] = generated.file
    # What the descriptor set adds and a module leaves out, nested types (a map's entry) too.
    messages = list(fresh.message_type)
    while messages:
        message = messages.pop()
        messages.extend(message.nested_type)
        for field in message.field:
            field.ClearField("json_name")
    committed = descriptor_pb2.FileDescriptorProto.FromString(pb.DESCRIPTOR.serialized_pb)
    assert committed == fresh, "regenerate mairust_hook_v1_pb2.py (see mairust/hooks/proto)"
    assert fresh.package == "mairust.hook.v1"
