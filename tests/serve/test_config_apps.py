"""serve/config_apps and the Serve deploy config that names it (cluster/deploy/serve-config.yaml):
the config fits Serve's own schema (ServeDeploySchema) with no key that schema would ignore,
and every application imports and builds the way Serve's controller does it
(``import_attr``, the builder called with its ``args``, ``build_app``), without a Ray cluster.
Broken configs and arguments are shown to be refused.
"""

from __future__ import annotations

import cluster  # noqa: F401  (first: sets the environment Ray reads when it is imported)

# isort: split
import copy
import types
import typing
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel, ValidationError
from ray._common.utils import import_attr
from ray.serve._private.api import call_user_app_builder_with_args_if_necessary
from ray.serve._private.build_app import build_app
from ray.serve.deployment import Application
from ray.serve.schema import ServeApplicationSchema, ServeDeploySchema

from serve.config_apps import ApiAppArgs, PluginAppArgs, api_app, expected_app_name, plugin_app

ROOT = Path(__file__).resolve().parents[2]
SERVE_CONFIG = ROOT / "cluster" / "deploy" / "serve-config.yaml"
CONFIG_MAP = ROOT / "cluster" / "deploy" / "kuberay" / "mairust-config.yaml"
# Where both deploy routes put the checkout and MaiRust's configuration on every node.
NODE_CHECKOUT = "/home/ray/mairust"
NODE_SETTINGS = "/home/ray/mairust.toml"


def serve_config() -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load(SERVE_CONFIG.read_text())
    return config


def unknown_keys(model: type[BaseModel], data: Any, where: str = "") -> list[str]:
    """Keys in ``data`` that ``model`` has no field for, nested models included: Serve's
    top-level and HTTP options schemas ignore such keys (for older Serves reading newer
    configs), so a misspelled one would pass ``model_validate`` unseen."""
    if not isinstance(data, dict):
        return []
    names = {
        alias
        for name, field in model.model_fields.items()
        for alias in (name, field.alias)
        if alias
    }
    found = [f"{where}{key}" for key in data if key not in names]
    for name, field in model.model_fields.items():
        value = data.get(field.alias or name, data.get(name))
        nested = _model_of(field.annotation)
        if nested is None or value is None:
            continue
        items = value if isinstance(value, list) else [value]
        for index, item in enumerate(items):
            suffix = f"[{index}]" if isinstance(value, list) else ""
            found += unknown_keys(nested, item, f"{where}{name}{suffix}.")
    return found


def _model_of(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) in (list, typing.Union, types.UnionType):
        for argument in typing.get_args(annotation):
            model = _model_of(argument)
            if model is not None:
                return model
    return None


@pytest.fixture
def node_paths(tmp_path: Path) -> dict[str, str]:
    """This checkout stands in for the node's copy; the KubeRay ConfigMap's mairust.toml
    for the node's configuration file."""
    config_map = next(d for d in yaml.safe_load_all(CONFIG_MAP.read_text()) if d)
    settings_file = tmp_path / "mairust.toml"
    settings_file.write_text(config_map["data"]["mairust.toml"])
    return {NODE_SETTINGS: str(settings_file), NODE_CHECKOUT: str(ROOT)}


def on_this_machine(args: dict[str, Any], paths: dict[str, str]) -> dict[str, Any]:
    moved = copy.deepcopy(args)
    for key in ("config_file", "package"):
        if key in moved:
            for node_path, here in paths.items():
                if moved[key] == node_path or moved[key].startswith(node_path + "/"):
                    moved[key] = here + moved[key][len(node_path) :]
                    break
    return moved


def build_as_serve_does(application: ServeApplicationSchema, args: dict[str, Any]) -> Any:
    app = call_user_app_builder_with_args_if_necessary(import_attr(application.import_path), args)
    assert isinstance(app, Application)
    return build_app(app, name=application.name, route_prefix=application.route_prefix)


def test_the_serve_config_fits_serves_schema_with_no_ignored_key() -> None:
    raw = serve_config()
    config = ServeDeploySchema.model_validate(raw)
    assert unknown_keys(ServeDeploySchema, raw) == []
    assert [app.name for app in config.applications] == [
        "api",
        "plugin-header-rules",
        "plugin-spam-filter",
    ]
    assert config.http_options.port == 8000


def test_every_application_imports_and_builds_as_serves_controller_does(
    node_paths: dict[str, str],
) -> None:
    config = ServeDeploySchema.model_validate(serve_config())
    for application in config.applications:
        args = on_this_machine(application.args, node_paths)
        built = build_as_serve_does(application, args)
        assert built.deployments, application.name
        if application.import_path == "serve.config_apps:plugin_app":
            # Reached by handle only, under the name the SMTP edge looks up.
            assert application.route_prefix is None
            assert application.name == expected_app_name(PluginAppArgs.model_validate(args))
        else:
            assert application.import_path == "serve.config_apps:api_app"
            assert application.route_prefix == "/"
            assert built.ingress_deployment_name == "api"


@pytest.mark.parametrize(
    ("path", "found"),
    [
        (("http_options", "prot"), "http_options.prot"),
        (("applications", 0, "route_prefx"), "applications[0].route_prefx"),
        (("proxy_locaton",), "proxy_locaton"),
    ],
)
def test_a_misspelled_optional_key_that_serve_ignores_is_found(
    path: tuple[Any, ...], found: str
) -> None:
    raw = serve_config()
    target: Any = raw
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = "typo"
    ServeDeploySchema.model_validate(raw)  # Serve's schema lets it through...
    assert unknown_keys(ServeDeploySchema, raw) == [found]  # ...this check does not


def test_a_misspelled_required_key_is_refused_by_serves_schema() -> None:
    raw = serve_config()
    raw["applications"][0]["import_pth"] = raw["applications"][0].pop("import_path")
    with pytest.raises(ValidationError, match="import_path"):
        ServeDeploySchema.model_validate(raw)


def test_an_import_path_that_does_not_exist_is_refused() -> None:
    application = ServeDeploySchema.model_validate(serve_config()).applications[0]
    broken = application.model_copy(update={"import_path": "serve.config_apps:no_such_app"})
    with pytest.raises(AttributeError):
        build_as_serve_does(broken, {})


@pytest.mark.parametrize(
    ("builder", "args", "refusal"),
    [
        (plugin_app, {"packge": "plugins/header_rules"}, "package"),
        (api_app, {"config_fle": "x.toml"}, "config_fle"),
        (api_app, {"log_level": "LOUD"}, "log_level"),
    ],
)
def test_misspelled_or_wrong_args_are_refused_by_name(
    builder: Any, args: dict[str, Any], refusal: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        call_user_app_builder_with_args_if_necessary(builder, args)
    assert refusal in str(refused.value)


def test_the_api_app_reads_the_named_configuration_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        api_app(ApiAppArgs(config_file=tmp_path / "absent.toml"))


@pytest.mark.parametrize(
    ("package", "config", "refusal"),
    [
        ("header_rules", {"rules": [{"header": "Subject"}]}, "configuration refused"),
        ("spam_filter", {"reject_threshold": 2}, "configuration refused"),
        ("greylist", {}, "keeps state"),
        ("attachment_policy", {}, "not serve"),
    ],
)
def test_a_plugin_app_is_refused_when_it_cannot_run_from_the_config(
    package: str, config: dict[str, Any], refusal: str
) -> None:
    args = PluginAppArgs(package=ROOT / "plugins" / package, config=config)
    with pytest.raises(ValueError, match=refusal):
        plugin_app(args)
