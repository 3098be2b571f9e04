"""A real gRPC hook plugin (``mairust.hook.v1.HookPlugin``) on 127.0.0.1 for tests, over
``grpc.aio`` in the test's event loop: it answers each call with ``answer`` (a
``HookResponse``), after ``delay`` seconds, or aborts with ``abort`` (a status code), and
keeps what it was sent (the request as the wire model, the metadata, the peer)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import grpc
import grpc.aio

from mairust.hooks.grpc_wire import request_from_proto, response_to_proto
from mairust.hooks.proto import mairust_hook_v1_pb2 as pb
from mairust.hooks.wire import HookRequest, HookResponse


@dataclass
class Seen:
    request: HookRequest
    metadata: dict[str, str]
    peer: str


@dataclass
class GrpcPluginServer:
    answer: HookResponse | pb.HookResponse = field(default_factory=HookResponse)
    delay: float = 0.0
    abort: grpc.StatusCode | None = None
    port: int = 0
    seen: list[Seen] = field(default_factory=list)

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def call(
        self,
        request: pb.HookRequest,
        context: grpc.aio.ServicerContext[pb.HookRequest, pb.HookResponse],
    ) -> pb.HookResponse:
        metadata = {key: str(value) for key, value in context.invocation_metadata() or ()}
        self.seen.append(Seen(request_from_proto(request), metadata, context.peer()))
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.abort is not None:
            await context.abort(self.abort, "refused by the test server")
        if isinstance(self.answer, HookResponse):
            return response_to_proto(self.answer)
        return self.answer


@asynccontextmanager
async def grpc_plugin_server(
    answer: HookResponse | pb.HookResponse | None = None,
    *,
    delay: float = 0.0,
    abort: grpc.StatusCode | None = None,
) -> AsyncIterator[GrpcPluginServer]:
    plugin = GrpcPluginServer(answer or HookResponse(), delay, abort)
    handler = grpc.method_handlers_generic_handler(
        "mairust.hook.v1.HookPlugin",
        {
            "Call": grpc.unary_unary_rpc_method_handler(
                plugin.call,
                request_deserializer=pb.HookRequest.FromString,
                response_serializer=pb.HookResponse.SerializeToString,
            )
        },
    )
    server = grpc.aio.server()
    server.add_generic_rpc_handlers((handler,))
    plugin.port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        yield plugin
    finally:
        await server.stop(grace=None)
