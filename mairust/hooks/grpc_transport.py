"""The ``grpc`` transport: a plugin that is a gRPC server of ``mairust.hook.v1.HookPlugin``
(``proto/mairust_hook_v1.proto``), in any language, reached at the manifest's entrypoint
``host:port`` over ``grpc.aio``.

One channel per plugin target, opened at the first call and kept open (HTTP/2: calls are
multiplexed on it). Its host is resolved ONCE when the channel opens, through the same
address guard and resolver as the http transport (``SafeHttpClient.checked_addresses``):
a plugin on a loopback or private address needs the operator to allow that network
(``[hooks] allow_networks``), and the channel connects to the checked addresses, never to
the name, so no second lookup can answer differently. Proxies from the environment are
ignored for the same reason.

Each call carries the manifest's ``timeouts.call_ms`` as its gRPC deadline (the plugin sees
it and can give up too) besides the chain's own deadline, which cancels the call;
``authorization: Bearer <secret>`` when the manifest names an ``auth_secret``, and the
hook point and plugin name as metadata. A ``DEADLINE_EXCEEDED`` is a ``TimeoutError`` (the
chain's ``on_timeout``); any other status, a refused address or an answer that is no hook
response is a ``PluginFailed`` (its ``on_error``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING

import grpc
import grpc.aio
from pydantic import ValidationError

from mairust.hooks.chain import Binding
from mairust.hooks.grpc_wire import request_to_proto, response_from_proto
from mairust.hooks.http_transport import PluginFailed
from mairust.hooks.manifest import parse_grpc_target
from mairust.hooks.proto import mairust_hook_v1_pb2 as pb
from mairust.hooks.wire import HookRequest, HookResponse
from mairust.net.address_guard import IPAddress, OutgoingRequestError

# The one method, by its full name in the .proto (the descriptor says it, no generated
# service module needed): "/mairust.hook.v1.HookPlugin/Call".
_CALL = pb.DESCRIPTOR.services_by_name["HookPlugin"].methods_by_name["Call"]
METHOD = f"/{_CALL.containing_service.full_name}/{_CALL.name}"
# A hook response is small; a plugin that answers more is broken (the http transport's
# bound on a response body, too).
MAX_ANSWER_BYTES = 64 * 1024
if TYPE_CHECKING:  # generic in the type stubs, not in every grpcio at run time
    _Method = grpc.aio.UnaryUnaryMultiCallable[pb.HookRequest, pb.HookResponse]
# The address guard: a host's addresses, each allowed (an OutgoingRequestError otherwise).
AddressCheck = Callable[[str], Awaitable[Sequence[IPAddress]]]


def _channel_target(addresses: Sequence[IPAddress], port: int) -> str:
    """gRPC's target for checked addresses (tried in order): ``ipv4:a:p,b:p`` or
    ``ipv6:[a]:p``. One target names one family: IPv4 when the name has any (a
    ``localhost`` answering ::1 first still reaches a plugin on 127.0.0.1)."""
    ipv4 = [a for a in addresses if a.version == 4]
    if ipv4:
        return "ipv4:" + ",".join(f"{a}:{port}" for a in ipv4)
    return "ipv6:" + ",".join(f"[{a}]:{port}" for a in addresses)


class GrpcPlugin:
    """Calls one ``grpc`` plugin at ``target`` (``host:port``); see the module doc."""

    def __init__(
        self,
        target: str,
        guard: AddressCheck,
        *,
        bearer: str | None = None,
        timeout_seconds: float | None = None,
    ) -> None:
        self._host, self._port = parse_grpc_target(target)
        self._target = target
        self._guard = guard
        self._bearer = bearer
        self._timeout = timeout_seconds
        self._channel: grpc.aio.Channel | None = None
        self._method: _Method | None = None
        self._opening = asyncio.Lock()

    async def __call__(self, binding: Binding, request: HookRequest) -> HookResponse:
        method = await self._opened(binding)
        metadata = [("mairust-hook-point", binding.point.value), ("mairust-plugin", binding.plugin)]
        if self._bearer is not None:
            metadata.append(("authorization", f"Bearer {self._bearer}"))
        try:
            answer = await method(
                request_to_proto(request), timeout=self._timeout, metadata=metadata
            )
        except grpc.aio.AioRpcError as error:
            if error.code() is grpc.StatusCode.DEADLINE_EXCEEDED:
                raise TimeoutError(
                    f"plugin {binding.plugin}: no answer within {self._timeout} s"
                ) from None
            raise PluginFailed(
                f"plugin {binding.plugin} at {self._target} answered gRPC "
                f"{error.code().name}: {error.details()}"
            ) from None
        try:
            return response_from_proto(answer)
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "the answer"
            raise PluginFailed(
                f"plugin {binding.plugin} answered no hook response ({where}: {first['msg']})"
            ) from None

    async def _opened(self, binding: Binding) -> _Method:
        """The channel's method, the channel opened (host resolved and checked) at first."""
        if self._method is not None:
            return self._method
        async with self._opening:
            if self._method is None:
                try:
                    addresses = await self._guard(self._host)
                except OutgoingRequestError as error:
                    raise PluginFailed(f"plugin {binding.plugin}: {error}") from error
                self._channel = grpc.aio.insecure_channel(
                    _channel_target(addresses, self._port),
                    options=[
                        # The server sees the name it was configured by, not the address.
                        ("grpc.default_authority", f"{self._host}:{self._port}"),
                        ("grpc.enable_http_proxy", 0),
                        ("grpc.max_receive_message_length", MAX_ANSWER_BYTES),
                        # A restarted plugin is called again within a second or two, not
                        # after gRPC's default reconnect backoff (up to 120 s).
                        ("grpc.initial_reconnect_backoff_ms", 200),
                        ("grpc.min_reconnect_backoff_ms", 200),
                        ("grpc.max_reconnect_backoff_ms", 2000),
                        # The connection belongs to this channel alone: gRPC's process-wide
                        # subchannel pool would otherwise hand a replacing channel (a rotated
                        # bearer) the old one's connection, and closing a channel would not
                        # close what it opened.
                        ("grpc.use_local_subchannel_pool", 1),
                    ],
                )
                self._method = self._channel.unary_unary(
                    METHOD,
                    request_serializer=pb.HookRequest.SerializeToString,
                    response_deserializer=pb.HookResponse.FromString,
                )
        return self._method

    async def aclose(self) -> None:
        """Close the channel (calls in flight are cancelled); a later call opens a new one."""
        channel, self._channel, self._method = self._channel, None, None
        if channel is not None:
            await channel.close(None)
