"""The hook wire model as protocol buffers (``mairust_hook_v1.proto``), for the ``grpc``
transport: the .proto and the Python module protoc generates from it.

The generated modules (``mairust_hook_v1_pb2.py`` and its ``.pyi``) are committed, not
generated at install: the platform then imports them with the ``protobuf`` runtime alone
(grpcio-tools is a development tool, not a dependency), and a plain ``pip install`` needs
no build step. They are left out of ruff and mypy (generated code), and
tests/mairust/hooks/test_grpc_wire.py regenerates them from the .proto and compares the
descriptors, so a .proto edited without regenerating fails there. To regenerate, from
this folder::

    python -m grpc_tools.protoc -I. --python_out=. --pyi_out=. mairust_hook_v1.proto

No ``_pb2_grpc`` service module is generated: the one client method the transport needs
is built from the descriptor (``grpc_transport``), which keeps grpcio's code-generator
version out of the runtime's checks.
"""

from pathlib import Path

PROTO_DIR = Path(__file__).resolve().parent
PROTO_FILE = PROTO_DIR / "mairust_hook_v1.proto"
