"""plugin.toml: a good manifest reads into its model; a bad one is refused with one clear
message per fault, each naming its key."""

from __future__ import annotations

from pathlib import Path

import pytest

from mairust.hooks.chain import BindingMode, FailurePolicy
from mairust.hooks.manifest import ManifestError, TransportKind, load_manifest, parse_manifest
from mairust.hooks.permissions import HookPermission
from mairust.hooks.points import DataScope, HookPoint

GOOD = """
scopes = ["envelope", "headers"]
permissions = ["tag", "reject"]
secrets = ["api_key"]

[plugin]
name = "header-rules"
version = "1.2.0"
description = "Tags and refuses mail by header rules."
author = "MaiRust"
license = "Apache-2.0"
changelog = "1.2.0: reject rules"

[transport]
kind = "http"
entrypoint = "http://127.0.0.1:8125/hook"

[[hooks]]
point = "pre_receive"
priority = 20
mode = "shadow"

[timeouts]
call_ms = 150
on_timeout = "accept"
on_error = "tempfail"

[autoscaling]
min_replicas = 1
max_replicas = 3
target_ongoing_requests = 4

[resources]
num_cpus = 0.25

[config_schema]
type = "object"
required = ["rules"]
properties = { rules = { type = "array" } }
"""


def test_a_good_manifest_reads_into_its_model(tmp_path: Path) -> None:
    (tmp_path / "plugin.toml").write_text(GOOD)
    manifest = load_manifest(tmp_path)
    assert manifest.plugin.name == "header-rules" and manifest.plugin.version == "1.2.0"
    assert manifest.transport.kind is TransportKind.HTTP
    [hook] = manifest.hooks
    assert (hook.point, hook.priority, hook.mode) == (HookPoint.PRE_RECEIVE, 20, BindingMode.SHADOW)
    assert manifest.scopes == [DataScope.ENVELOPE, DataScope.HEADERS]
    assert manifest.permissions == [HookPermission.TAG, HookPermission.REJECT]
    assert manifest.timeouts.on_error is FailurePolicy.TEMPFAIL
    assert manifest.autoscaling.max_replicas == 3 and manifest.resources.num_cpus == 0.25
    assert manifest.config_schema["required"] == ["rules"] and manifest.secrets == ["api_key"]


@pytest.mark.parametrize(
    ("change", "fault"),
    [
        (
            ('point = "pre_receive"', 'point = "pre_recieve"'),
            "hooks[0].point: 'pre_recieve' is not one of",
        ),
        (('"headers"]', '"everything"]'), "scopes[1]: 'everything' is not one of"),
        (('"reject"]', '"rule-the-world"]'), "permissions[1]: 'rule-the-world' is not one of"),
        (
            ('kind = "http"', 'kind = "carrier-pigeon"'),
            "transport.kind: 'carrier-pigeon' is not one of",
        ),
        (
            ('kind = "http"', 'kind = "serve"'),
            "transport.entrypoint: a serve plugin names module:attribute",
        ),
        (
            ("target_ongoing_requests = 4", "target_ongoing_requests = 4\nmax_batch_size = 100"),
            "autoscaling: max_batch_size is above max_ongoing_requests",
        ),
        (
            ("target_ongoing_requests = 4", "target_ongoing_requests = 4\nupscale_delay_s = -1"),
            "autoscaling.upscale_delay_s: Input should be greater than or equal to 0",
        ),
        (
            ('point = "pre_receive"', 'point = "rcpt_to"'),
            "hooks[0].point: rcpt_to has no headers to give",
        ),
        (
            ('name = "header-rules"', 'name = "Header Rules!"'),
            "plugin.name: Value error, a name is",
        ),
        (('version = "1.2.0"', 'version = "one"'), "plugin.version: Value error, a version is"),
        (
            ("min_replicas = 1", "min_replicas = 5"),
            "autoscaling: min_replicas is above max_replicas",
        ),
        (('type = "object"', 'type = "shape"'), "config_schema: not a JSON Schema"),
        (("call_ms = 150", "call_ms = 150\nretries = 3"), "timeouts.retries: unknown key"),
        (
            ('on_error = "tempfail"', 'on_error = "explode"'),
            "timeouts.on_error: 'explode' is not one of",
        ),
        (
            ('kind = "http"', 'kind = "http"\nauth_secret = "nowhere"'),
            "transport.auth_secret: 'nowhere' is not one of its secrets",
        ),
        (
            ("[[hooks]]", '[learning]\nlabels = ["spam", "ham"]\n\n[[hooks]]'),
            "learning: only a serve plugin can learn",
        ),
        (
            ("[[hooks]]", '[learning]\nlabels = ["a"]\nrelease_label = "b"\n\n[[hooks]]'),
            "learning.release_label: not one of learning.labels",
        ),
        (
            ("[[hooks]]", '[learning]\nlabels = ["-x"]\n\n[[hooks]]'),
            "learning.labels: Value error, a label is",
        ),
    ],
)
def test_a_bad_manifest_is_refused_naming_the_key(change: tuple[str, str], fault: str) -> None:
    old, new = change
    assert old in GOOD
    with pytest.raises(ManifestError) as caught:
        parse_manifest(GOOD.replace(old, new, 1))
    assert any(f.startswith(fault) for f in caught.value.faults), caught.value.faults


def test_every_fault_is_said_at_once() -> None:
    bad = GOOD.replace('point = "pre_receive"', 'point = "nowhere"').replace(
        'license = "Apache-2.0"', ""
    )
    with pytest.raises(ManifestError) as caught:
        parse_manifest(bad)
    assert len(caught.value.faults) == 2
    assert "plugin.toml is not valid" in str(caught.value)


def test_a_serve_manifest_with_its_autoscaling_and_resources() -> None:
    serve = GOOD.replace('kind = "http"', 'kind = "serve"').replace(
        'entrypoint = "http://127.0.0.1:8125/hook"', 'entrypoint = "rules.engine:plugin"'
    )
    serve = serve.replace(
        "target_ongoing_requests = 4",
        "target_ongoing_requests = 4\nupscale_delay_s = 1\ndownscale_delay_s = 5\n"
        "look_back_period_s = 3\nmax_ongoing_requests = 10\nmax_batch_size = 8\n"
        "batch_wait_ms = 5",
    ).replace("num_cpus = 0.25", "num_cpus = 0.25\nnum_gpus = 1")
    manifest = parse_manifest(serve)
    assert manifest.transport.kind is TransportKind.SERVE
    assert manifest.transport.entrypoint == "rules.engine:plugin"
    scaling = manifest.autoscaling
    assert (scaling.min_replicas, scaling.max_replicas, scaling.target_ongoing_requests) == (
        1,
        3,
        4,
    )
    assert (scaling.upscale_delay_s, scaling.downscale_delay_s, scaling.look_back_period_s) == (
        1,
        5,
        3,
    )
    assert (scaling.max_ongoing_requests, scaling.max_batch_size, scaling.batch_wait_ms) == (
        10,
        8,
        5,
    )
    assert (manifest.resources.num_cpus, manifest.resources.num_gpus) == (0.25, 1)


def test_the_bundled_plugins_manifests_are_valid() -> None:
    plugins = Path(__file__).resolve().parents[3] / "plugins"
    kinds = {
        load_manifest(path.parent).plugin.name: load_manifest(path.parent).transport.kind
        for path in plugins.glob("*/plugin.toml")
    }
    assert kinds == {
        "header-rules": TransportKind.SERVE,
        "recipient-policy": TransportKind.HTTP,
        "header-rules-rs": TransportKind.STDIN,
        "greylist": TransportKind.SERVE,
        "ticket-webhook": TransportKind.WEBHOOK,
        "attachment-policy": TransportKind.GRPC,
        "classifier": TransportKind.SERVE,
        "summarizer": TransportKind.SERVE,
        "language": TransportKind.SERVE,
        "dlp": TransportKind.SERVE,
        "spam-filter": TransportKind.SERVE,
        "rspamd": TransportKind.HTTP,
        "dnsbl": TransportKind.SERVE,
    }
    spam_filter = load_manifest(plugins / "spam_filter")
    assert spam_filter.learning is not None and spam_filter.learning.labels == ["spam", "ham"]
    assert spam_filter.resources.num_gpus == 0


@pytest.mark.parametrize(
    "entrypoint", ["127.0.0.1:50051", "plugins.example:443", "[::1]:7000", "localhost:1"]
)
def test_a_grpc_plugin_names_host_and_port(entrypoint: str) -> None:
    manifest = parse_manifest(
        GOOD.replace('kind = "http"', 'kind = "grpc"').replace(
            "http://127.0.0.1:8125/hook", entrypoint
        )
    )
    assert manifest.transport.kind is TransportKind.GRPC
    assert manifest.transport.entrypoint == entrypoint


@pytest.mark.parametrize(
    ("entrypoint", "says"),
    [
        ("http://127.0.0.1:8125/hook", "is not host:port"),
        ("127.0.0.1", "is not host:port"),
        ("::1:7000", "is not host:port"),
        ("[1::2::3]:7000", "is not an IPv6 address"),
        ("127.0.0.1:70000", "port 70000 is not 1-65535"),
        ("127.0.0.1:0", "port 0 is not 1-65535"),
        ("-bad-.example:1", "is not host:port"),
    ],
)
def test_a_grpc_entrypoint_that_is_not_host_and_port_is_refused(entrypoint: str, says: str) -> None:
    with pytest.raises(ManifestError) as caught:
        parse_manifest(
            GOOD.replace('kind = "http"', 'kind = "grpc"').replace(
                "http://127.0.0.1:8125/hook", entrypoint
            )
        )
    [fault] = caught.value.faults
    assert fault.startswith("transport.entrypoint: a grpc plugin names host:port") and says in fault


def test_not_toml_and_no_file(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="not TOML"):
        parse_manifest("[plugin\nname=")
    with pytest.raises(ManifestError, match="cannot read"):
        load_manifest(tmp_path)


@pytest.mark.parametrize("odd", ["a\x00b", "\udbb1\udf04"])
def test_a_path_no_file_system_takes_is_a_manifest_error(odd: str) -> None:
    # The fuzz test found it: a NUL or a lone surrogate in the posted path was a 500.
    with pytest.raises(ManifestError, match="cannot read"):
        load_manifest(Path("/tmp") / odd)


STDIN = GOOD.replace('kind = "http"', 'kind = "stdin"').replace(
    'entrypoint = "http://127.0.0.1:8125/hook"', "entrypoint = \"bin/rules --strict 'a b'\""
)


def test_a_stdin_manifest_names_a_command_line() -> None:
    manifest = parse_manifest(STDIN)
    assert manifest.transport.kind is TransportKind.STDIN
    assert manifest.transport.entrypoint == "bin/rules --strict 'a b'"


@pytest.mark.parametrize(
    ("entrypoint", "fault"),
    [
        ('"bin/rules \'unclosed"', "transport.entrypoint: not a command line"),
        ('"  "', "transport.entrypoint: a stdin plugin names the command that runs it"),
    ],
)
def test_a_stdin_entrypoint_that_is_no_command_is_refused(entrypoint: str, fault: str) -> None:
    text = STDIN.replace("\"bin/rules --strict 'a b'\"", entrypoint)
    with pytest.raises(ManifestError) as refused:
        parse_manifest(text)
    [said] = refused.value.faults
    assert said.startswith(fault)


def test_a_stdin_plugin_is_given_no_bearer() -> None:
    text = STDIN.replace('kind = "stdin"', 'kind = "stdin"\nauth_secret = "api_key"')
    with pytest.raises(ManifestError) as refused:
        parse_manifest(text)
    assert refused.value.faults == ["transport.auth_secret: a stdin plugin is not given one"]


def test_state_is_kept_for_serve_plugins_only() -> None:
    with pytest.raises(ManifestError) as refused:
        parse_manifest(GOOD.replace('permissions = ["tag", "reject"]', 'permissions = ["state"]'))
    assert refused.value.faults == ["permissions: state is kept for serve plugins only"]
    serve = GOOD.replace('permissions = ["tag", "reject"]', 'permissions = ["state"]').replace(
        'kind = "http"\nentrypoint = "http://127.0.0.1:8125/hook"',
        'kind = "serve"\nentrypoint = "plugin:plugin"',
    )
    assert HookPermission.STATE in parse_manifest(serve).permissions
