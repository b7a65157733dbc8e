"""The contract between the code and infra/: what the code names and reads, the templates provision, set and allow."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from functools import cache

import pytest

from tagging import config
from tests.infra.bicep import (
    INFRA,
    ROOT,
    Json,
    bicep_files,
    body,
    module_params,
    one_resource,
    parse,
    resolve_names,
    resources_of_type,
    template,
)

# Built-in role definition ids (https://learn.microsoft.com/azure/role-based-access-control/built-in-roles).
BLOB_DATA_CONTRIBUTOR = "ba92f5b4-2d11-453d-a403-e96b0029c9fe"
BLOB_DATA_OWNER = "b7e6dc6d-f1e8-4753-8033-0f276bb0955b"
QUEUE_DATA_CONTRIBUTOR = "974c5e8b-45b9-4653-ba55-5f855dd0fb88"
TABLE_DATA_CONTRIBUTOR = "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3"
MONITORING_METRICS_PUBLISHER = "3913510d-42f4-4e42-8a64-420c390055eb"

IDENTITY_CONNECTION_SUFFIXES = ("blobServiceUri", "queueServiceUri", "tableServiceUri", "credential", "clientId")


def code_constants(suffix: str) -> dict[str, str]:
    found = {name: value for name, value in vars(config).items() if name.isupper() and name.endswith(suffix)}
    assert found, f"tagging/config.py has no constant ending {suffix}"
    return found


def not_empty(name: str) -> Json:
    """pycep's form of the Bicep condition `!empty(name)`."""
    empty = {"function": {"type": "empty", "parameters": {"item_to_test": name}}}
    return {"operator": {"type": "not", "operands": {"bool_value": empty}}}


def provisioned(resource_type: str) -> list[Json]:
    """The names of the resource_type storage.bicep creates: one per item of the list main.bicep passes it."""
    storage = template("app/storage.bicep")
    resource = one_resource(storage, resource_type)
    loop = resource["config"]["loop_type"]["detail"]
    assert body(resource)["name"] == loop["item_name"], f"{resource_type} should be named by its loop item"
    assert loop["array_name"] in storage["parameters"], f"{resource_type} should loop over a parameter"
    return resolve_names(module_params("storage")[loop["array_name"]])


def app_settings() -> dict[str, Json]:
    """Every app setting: the app's own (main.bicep) merged with the host's (api.bicep), as api.bicep sets them."""
    api = template("app/api.bicep")
    loop = body(one_resource(api, "Microsoft.Web/sites"))["properties"]["siteConfig"]["appSettings"]["loop_type"]
    assert re.search(r"union.*'appSettings'.*'hostSettings'", loop["detail"]["object_name"]), loop
    return {**module_params("api")["appSettings"], **api["variables"]["hostSettings"]["value"]}


def role_ids_granted_to(principal: str) -> set[str]:
    """Role definition ids that rbac.bicep assigns to the principal named by the parameter `principal`."""
    rbac = template("app/rbac.bicep")
    values = {name: v["value"] for name, v in rbac["variables"].items()}
    granted = set()
    for resource in resources_of_type(rbac, "Microsoft.Authorization/roleAssignments").values():
        properties = body(resource)["properties"]
        if properties["principalId"] != principal:
            continue
        role = properties["roleDefinitionId"]["function"]["parameters"]["resource_name_1"]
        loop = resource["config"].get("loop_type")
        names = values[loop["detail"]["array_name"]] if loop and role == loop["detail"]["item_name"] else [role]
        granted |= {values[name] for name in names}
    return granted


def test_every_container_queue_and_table_the_code_names_is_provisioned() -> None:
    containers = provisioned("Microsoft.Storage/storageAccounts/blobServices/containers")
    queues = provisioned("Microsoft.Storage/storageAccounts/queueServices/queues")
    tables = provisioned("Microsoft.Storage/storageAccounts/tableServices/tables")
    assert set(code_constants("_CONTAINER").values()) <= set(containers)
    assert set(code_constants("_QUEUE").values()) <= set(queues)
    assert set(code_constants("_TABLE").values()) <= set(tables)


def test_storage_json_lists_the_codes_names_and_nothing_else() -> None:
    names = json.loads((INFRA / "storage.json").read_text())
    assert sorted(names["containers"]) == sorted(code_constants("_CONTAINER").values())
    assert sorted(names["queues"]) == sorted(code_constants("_QUEUE").values())
    assert sorted(names["tables"]) == sorted(code_constants("_TABLE").values())


def test_the_app_deploys_from_a_container_the_storage_module_creates() -> None:
    assert module_params("api")["deploymentContainerName"] == "deploymentContainerName"
    assert "deploymentContainerName" in module_params("storage")["containers"]["function"]["parameters"]["arg_2"]
    deployment = body(one_resource(template("app/api.bicep"), "Microsoft.Web/sites"))["properties"]
    storage = deployment["functionAppConfig"]["deployment"]["storage"]
    assert storage["type"] == "blobContainer"
    assert storage["value"] == "${storageBlobEndpoint}${deploymentContainerName}"
    assert storage["authentication"] == {"type": "UserAssignedIdentity", "userAssignedIdentityResourceId": "identityId"}


def test_every_setting_the_code_reads_is_set_in_the_app_settings() -> None:
    read = set(code_constants("_SETTING").values())
    read |= {f"{config.CONNECTION}__{suffix}" for suffix in IDENTITY_CONNECTION_SUFFIXES}
    assert read - set(app_settings()) == set()


def passed_to_api(value: Json) -> Json:
    """A host setting names a parameter of api.bicep: what main.bicep passes for it (anything else as it stands)."""
    is_parameter = isinstance(value, str) and value in template("app/api.bicep")["parameters"]
    return module_params("api")[value] if is_parameter else value


@pytest.mark.parametrize("connection", ["AzureWebJobsStorage", config.CONNECTION])
def test_both_storage_connections_are_identity_based_with_the_accounts_own_service_uris(connection: str) -> None:
    settings = app_settings()
    assert connection not in settings, "a connection string would need a storage key"
    assert f"{connection}__accountName" not in settings, "it assumes the global cloud's DNS suffix; use service URIs"
    for service in ("blob", "queue", "table"):
        assert passed_to_api(settings[f"{connection}__{service}ServiceUri"]) == f"storage.outputs.{service}Endpoint"
    assert settings[f"{connection}__credential"] == "managedidentity"
    assert passed_to_api(settings[f"{connection}__clientId"]) == "identity.outputs.clientId", "the identity it runs as"
    assert module_params("api")["identityId"] == "identity.outputs.id"


def test_the_service_uris_are_the_storage_accounts_endpoints_and_no_dns_suffix_is_written_out() -> None:
    outputs = template("app/storage.bicep")["outputs"]
    for service in ("blob", "queue", "table"):
        assert outputs[f"{service}Endpoint"]["value"] == f"storage.properties.primaryEndpoints.{service}"
    assert [path.name for path in bicep_files() if "core.windows.net" in path.read_text()] == []


def test_flex_consumption_takes_the_runtime_from_the_site_not_from_app_settings() -> None:
    assert not {"FUNCTIONS_WORKER_RUNTIME", "FUNCTIONS_EXTENSION_VERSION"} & set(app_settings()), (
        "Flex Consumption refuses them"
    )


def test_the_limits_are_parameters_defaulting_to_the_codes_defaults() -> None:
    parameters = template("main.bicep")["parameters"]
    settings = app_settings()
    for setting, parameter, default in [
        (config.MAX_UPLOAD_BYTES_SETTING, "maxUploadBytes", config.DEFAULT_MAX_UPLOAD_BYTES),
        (config.MAX_PIXELS_SETTING, "maxPixels", config.DEFAULT_MAX_PIXELS),
        (config.RETRY_INTERVAL_SETTING, "retryIntervalSeconds", config.DEFAULT_RETRY_INTERVAL_SECONDS),
    ]:
        assert settings[setting] == {"function": {"type": "string", "parameters": {"value_to_convert": parameter}}}
        assert parameters[parameter]["type"] == "int"
        assert parameters[parameter]["default"] == default


# FUNCTIONS_REQUEST_BODY_SIZE_LIMIT's documented default: the host buffers bodies up to 100 MB unless it is set.
HOST_DEFAULT_REQUEST_BODY_LIMIT = 104_857_600


def test_the_host_refuses_bodies_over_the_upload_limit_plus_headroom_before_buffering_them() -> None:
    limit = app_settings()["FUNCTIONS_REQUEST_BODY_SIZE_LIMIT"]["function"]
    assert limit["type"] == "string"
    total = limit["parameters"]["value_to_convert"]["operator"]
    assert total["type"] == "add"
    assert total["operands"]["operand_1"] == "maxUploadBytes", "it follows the upload limit the deployer sets"
    headroom = template("main.bicep")["variables"][total["operands"]["operand_2"]]["value"]
    assert 0 < headroom <= config.DEFAULT_MAX_UPLOAD_BYTES // 10
    assert config.DEFAULT_MAX_UPLOAD_BYTES + headroom < HOST_DEFAULT_REQUEST_BODY_LIMIT, "it must lower the default"


def test_the_worker_pool_in_azure_is_the_one_the_local_settings_use() -> None:
    """tests/contract holds the local pool above what the queue functions can hold; Azure gets the same size."""
    local = json.loads((ROOT / "local.settings.json.example").read_text())["Values"]
    assert app_settings()["PYTHON_THREADPOOL_THREAD_COUNT"] == local["PYTHON_THREADPOOL_THREAD_COUNT"]


def test_without_sign_in_the_app_trusts_no_caller_unless_the_deployer_says_so() -> None:
    """The code refuses every caller in Azure without App Service Authentication unless TAGGING_TRUST_IDENTITY_HEADER
    is true (tagging/config.py caller_source): a parameter that is off by default, and that azd maps."""
    setting = app_settings()[config.TRUST_IDENTITY_HEADER_SETTING]
    assert setting == {"function": {"type": "string", "parameters": {"value_to_convert": "trustIdentityHeader"}}}
    parameter = template("main.bicep")["parameters"]["trustIdentityHeader"]
    assert (parameter["type"], parameter["default"]) == ("bool", False)
    mapped = json.loads((INFRA / "main.parameters.json").read_text())["parameters"]["trustIdentityHeader"]
    assert mapped["value"] == "${TRUST_IDENTITY_HEADER=false}"


def test_application_insights_accepts_telemetry_only_from_the_apps_identity() -> None:
    insights = body(one_resource(template("app/monitoring.bicep"), "Microsoft.Insights/components"))
    assert insights["properties"]["DisableLocalAuth"] is True
    assert (
        app_settings()["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"] == "ClientId=${identityClientId};Authorization=AAD"
    )


def test_the_apps_identity_gets_blob_queue_and_table_data_roles_and_may_publish_metrics() -> None:
    granted = role_ids_granted_to("identityPrincipalId")
    assert granted & {BLOB_DATA_CONTRIBUTOR, BLOB_DATA_OWNER}
    assert {QUEUE_DATA_CONTRIBUTOR, TABLE_DATA_CONTRIBUTOR, MONITORING_METRICS_PUBLISHER} <= granted
    assert granted <= {BLOB_DATA_OWNER, QUEUE_DATA_CONTRIBUTOR, TABLE_DATA_CONTRIBUTOR, MONITORING_METRICS_PUBLISHER}


def test_role_assignments_are_named_by_guid_and_scoped_to_one_resource() -> None:
    assignments = resources_of_type(template("app/rbac.bicep"), "Microsoft.Authorization/roleAssignments")
    assert assignments
    for name, resource in assignments.items():
        assert body(resource)["name"]["function"]["type"] == "guid", name
        assert body(resource)["scope"] in {"storage", "applicationInsights"}, name


def test_the_developer_gets_data_contributor_roles_only_when_asked() -> None:
    """Enough to debug the app's data from a machine; not Blob Data Owner, which also manages access (ACLs)."""
    assert role_ids_granted_to("developerPrincipalId") == {
        BLOB_DATA_CONTRIBUTOR,
        QUEUE_DATA_CONTRIBUTOR,
        TABLE_DATA_CONTRIBUTOR,
    }
    rbac = template("app/rbac.bicep")
    for resource in resources_of_type(rbac, "Microsoft.Authorization/roleAssignments").values():
        if body(resource)["properties"]["principalId"] == "developerPrincipalId":
            assert resource["config"]["condition"] == not_empty("developerPrincipalId")
    assert rbac["parameters"]["developerPrincipalId"]["default"] == ""
    passed = module_params("rbac")["developerPrincipalId"]["operator"]
    assert passed == {
        "type": "conditional",
        "operands": {"condition": "grantDeveloperAccess", "true_value": "principalId", "false_value": ""},
    }
    assert template("main.bicep")["parameters"]["grantDeveloperAccess"]["default"] is False
    parameters = json.loads((INFRA / "main.parameters.json").read_text())["parameters"]
    assert parameters["grantDeveloperAccess"]["value"].endswith("=false}")


def readme_deploy_section() -> str:
    readme = (ROOT / "README.md").read_text()
    section = re.search(r"^## Deploy to Azure\n(.*?)(?=^## )", readme, re.MULTILINE | re.DOTALL)
    assert section, "README.md should have a '## Deploy to Azure' section"
    return section[1]


def test_the_deployed_python_version_is_the_one_the_readme_ci_and_mypy_state() -> None:
    version = template("main.bicep")["variables"]["pythonVersion"]["value"]
    assert re.fullmatch(r"3\.\d+", version), version
    assert module_params("api")["pythonVersion"] == "pythonVersion"
    site = body(one_resource(template("app/api.bicep"), "Microsoft.Web/sites"))
    assert site["properties"]["functionAppConfig"]["runtime"] == {"name": "python", "version": "pythonVersion"}

    runtime = [line for line in readme_deploy_section().splitlines() if "Flex Consumption" in line and "Python" in line]
    assert runtime, "README, Deploy: the sentence saying which runtime the function app gets should name Python"
    assert {found for line in runtime for found in re.findall(r"Python (\d+\.\d+)", line)} == {version}
    ci = re.search(r"sys\.version_info\[:2\] != \((\d+), (\d+)\)", (ROOT / ".ci" / "run").read_text())
    assert ci, ".ci/run should check the Python version it runs"
    assert f"{ci[1]}.{ci[2]}" == version
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert pyproject["tool"]["mypy"]["python_version"] == version


def test_the_vision_key_is_a_secure_parameter_and_never_an_output() -> None:
    """Plain parameters, module parameters included, are kept in the deployment history, and outputs are readable."""
    assert {"type": "secure"} in template("main.bicep")["parameters"]["visionKey"]["decorators"]
    assert app_settings()[config.VISION_KEY_SETTING] == "visionKey"
    assert {"type": "secure"} in template("app/api.bicep")["parameters"]["appSettings"]["decorators"]
    for path in bicep_files():
        outputs = json.dumps(parse(path).get("outputs", {}))
        assert "visionKey" not in outputs, path.name
        assert "appSettings" not in outputs, path.name


def test_the_storage_account_refuses_keys_anonymous_access_and_old_tls_and_keeps_deleted_blobs() -> None:
    storage = template("app/storage.bicep")
    account = body(one_resource(storage, "Microsoft.Storage/storageAccounts"))
    assert account["kind"] == "StorageV2"
    properties = account["properties"]
    assert properties["allowSharedKeyAccess"] is False
    assert properties["allowBlobPublicAccess"] is False
    assert properties["minimumTlsVersion"] == "TLS1_2"
    assert properties["supportsHttpsTrafficOnly"] is True
    blob_service = body(one_resource(storage, "Microsoft.Storage/storageAccounts/blobServices"))["properties"]
    assert blob_service["deleteRetentionPolicy"]["enabled"] is True
    assert blob_service["containerDeleteRetentionPolicy"]["enabled"] is True


def test_the_function_app_runs_on_flex_consumption_linux_as_its_user_assigned_identity() -> None:
    api = template("app/api.bicep")
    plan = body(one_resource(api, "Microsoft.Web/serverfarms"))
    assert plan["sku"] == {"name": "FC1", "tier": "FlexConsumption"}
    assert plan["properties"]["reserved"] is True
    site = body(one_resource(api, "Microsoft.Web/sites"))
    assert site["kind"] == "functionapp,linux"
    assert site["identity"] == {"type": "UserAssigned", "userAssignedIdentities": {"${identityId}": {}}}
    assert site["properties"]["httpsOnly"] is True
    scale = site["properties"]["functionAppConfig"]["scaleAndConcurrency"]
    assert scale == {"maximumInstanceCount": "maximumInstanceCount", "instanceMemoryMB": "instanceMemoryMB"}
    parameters = template("main.bicep")["parameters"]
    assert {"maximumInstanceCount", "instanceMemoryMB"} <= set(parameters)


def test_app_service_authentication_refuses_unauthenticated_requests_when_a_client_id_is_given() -> None:
    module = template("app/api.bicep")["modules"]["auth"]
    assert module["detail"]["path"] == "auth.bicep"
    assert module["config"]["condition"] == not_empty("authClientId")
    assert module["config"]["config"]["params"]["clientId"] == "authClientId"
    auth = body(one_resource(template("app/auth.bicep"), "Microsoft.Web/sites/config"))
    assert auth["name"] == "authsettingsV2"
    validation = auth["properties"]["globalValidation"]
    assert validation["requireAuthentication"] is True
    assert validation["unauthenticatedClientAction"] == "Return401", "API clients get a 401, not a login page"
    entra = auth["properties"]["identityProviders"]["azureActiveDirectory"]
    assert entra["enabled"] is True
    assert entra["registration"]["clientId"] == "clientId"
    assert template("main.bicep")["parameters"]["authClientId"]["default"] == ""
    assert module_params("api")["authClientId"] == "authClientId"


@cache
def http_functions() -> dict[str, Json]:
    """Each HTTP trigger as the Python worker reports it to the host. In a child process: a FunctionApp may index
    its functions once per process, and tests/contract does so in this one."""
    script = (
        "import json, function_app\n"
        "triggers = {fn.get_function_name(): [json.loads(b) for b in fn.get_raw_bindings()]"
        " for fn in function_app.app.get_functions()}\n"
        "print(json.dumps({n: b for n, bs in triggers.items() for b in bs if b['type'] == 'httpTrigger'}))"
    )
    run = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert run.returncode == 0, run.stderr[-3000:]
    triggers: dict[str, Json] = json.loads(run.stdout)
    return triggers


def example_paths(route: str) -> list[str]:
    """Request paths a route answers: parameters filled in; for a catch-all, its bare base, the base with a slash
    and a file under it."""
    prefix = json.loads((ROOT / "host.json").read_text())["extensions"]["http"]["routePrefix"]
    path = f"/{prefix}/" + re.sub(r"\{[^*}][^}]*\}", "x", route)
    base, catch_all, _ = path.partition("/{*")
    return [base, base + "/", base + "/app.js"] if catch_all else [path]


def excluded_from_authentication(path: str) -> bool:
    """App Service Authentication's excludedPaths: exact paths, or "/path/*" for everything under a path."""
    auth = body(one_resource(template("app/auth.bicep"), "Microsoft.Web/sites/config"))
    patterns = resolve_names(auth["properties"]["globalValidation"]["excludedPaths"], "app/auth.bicep")
    return any(path == p or (p.endswith("/*") and path.startswith(p[:-1])) for p in patterns)


def test_only_the_anonymous_browser_page_loads_without_signing_in() -> None:
    """Signed out, a browser must still get the page (to show its "Sign in" link); every API call gets a 401."""
    functions = http_functions()
    anonymous = {name for name, trigger in functions.items() if trigger["authLevel"] == "ANONYMOUS"}
    assert anonymous == {"web_page"}, "only the page is anonymous; a new anonymous function needs a decision here"
    for name, trigger in functions.items():
        paths = example_paths(trigger["route"])
        if name in anonymous:
            assert all(excluded_from_authentication(path) for path in paths), (name, paths)
        else:
            assert not any(excluded_from_authentication(path) for path in paths), (name, paths)


def test_azd_deploys_this_folder_to_the_function_app_as_the_api_service() -> None:
    azure_yaml = (ROOT / "azure.yaml").read_text()
    assert "services:\n  api:\n    project: .\n    language: python\n    host: function\n" in azure_yaml
    site = body(one_resource(template("app/api.bicep"), "Microsoft.Web/sites"))
    assert site["tags"]["function"]["parameters"]["arg_2"] == {"azd-service-name": "serviceName"}
    assert module_params("api")["serviceName"] == "api"


def test_main_parameters_json_sets_only_declared_parameters_and_every_required_one() -> None:
    declared = template("main.bicep")["parameters"]
    required = {name for name, parameter in declared.items() if "default" not in parameter}
    given = set(json.loads((INFRA / "main.parameters.json").read_text())["parameters"])
    assert given <= set(declared)
    assert required <= given


@pytest.mark.parametrize(
    "output",
    ["AZURE_FUNCTION_APP_NAME", "AZURE_FUNCTION_APP_HOST_NAME", "AZURE_STORAGE_ACCOUNT_NAME", "SERVICE_API_NAME"],
)
def test_main_bicep_outputs_what_a_deployer_and_azd_need(output: str) -> None:
    assert output in template("main.bicep")["outputs"]


def test_main_bicep_deploys_into_one_resource_group_with_its_region_by_default() -> None:
    """`az deployment group create` needs rights on that group only; azd asks which group (AZURE_RESOURCE_GROUP)."""
    main = template("main.bicep")
    assert main["globals"]["scope"] == {"value": "resourceGroup"}
    default = main["parameters"]["location"]["default"]["function"]
    assert (default["type"], default["property_name"]) == ("resource_group", "location")


# What each built-in role allows on the data plane (https://learn.microsoft.com/azure/role-based-access-control/
# built-in-roles/storage), in the form `<service>/<operation>`: only the parts the app can need.
ROLE_ALLOWS = {
    BLOB_DATA_OWNER: {"containers/write", "blobs/read", "blobs/write", "blobs/delete", "blobs/add",
                      "generateUserDelegationKey"},
    BLOB_DATA_CONTRIBUTOR: {"containers/write", "blobs/read", "blobs/write", "blobs/delete", "blobs/add",
                            "generateUserDelegationKey"},
    QUEUE_DATA_CONTRIBUTOR: {"queues/write", "messages/read", "messages/write", "messages/delete", "messages/add",
                             "messages/process"},
    TABLE_DATA_CONTRIBUTOR: {"tables/write", "entities/read", "entities/add", "entities/update", "entities/delete"},
}  # fmt: skip

# The data actions of every storage SDK call that does I/O; client factories need none. A new call in the code
# fails the test below until it is added here, so that nobody forgets to check the roles for it.
SDK_CALL_NEEDS = {
    "get_blob_client": set(), "get_container_client": set(), "get_table_client": set(),
    "from_connection_string": set(), "close": set(),
    "create_container": {"containers/write"},
    "upload_blob": {"blobs/write", "blobs/add"},
    "download_blob": {"blobs/read"},
    "get_blob_properties": {"blobs/read"},
    "delete_blob": {"blobs/delete"},
    # Download links are user delegation SAS: the key must come from a role at the account's scope.
    "get_user_delegation_key": {"generateUserDelegationKey"},
    "create_table": {"tables/write"},
    "get_entity": {"entities/read"},
    "query_entities": {"entities/read"},
    "create_entity": {"entities/add"},
    "update_entity": {"entities/update"},
    "upsert_entity": {"entities/add", "entities/update"},
    "delete_entity": {"entities/delete"},
    "submit_transaction": {"entities/add", "entities/update", "entities/delete"},
}  # fmt: skip

# What the host does for the bindings: the queue trigger receives, hides, deletes and poisons messages (creating
# the poison queue), the queue output binding adds messages, the Table output binding inserts entities.
HOST_NEEDS = {"queues/write", "messages/read", "messages/process", "messages/delete", "messages/add", "entities/add"}


def sdk_calls_in_the_code() -> set[str]:
    import ast
    import inspect

    from azure.data.tables import TableClient, TableServiceClient
    from azure.storage.blob import BlobClient, BlobServiceClient, ContainerClient
    from azure.storage.queue import QueueClient, QueueServiceClient

    clients = (TableClient, TableServiceClient, BlobClient, BlobServiceClient, ContainerClient, QueueClient,
               QueueServiceClient)  # fmt: skip
    sdk = {name for client in clients for name, _ in inspect.getmembers(client, callable) if not name.startswith("_")}
    called = set()
    for path in [ROOT / "function_app.py", *(ROOT / "tagging").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                called.add(node.func.attr)
    return called & sdk


# The developer runs the same code, and the local runner does the host's queue and table work, with their own roles.
@pytest.mark.parametrize("principal", ["identityPrincipalId", "developerPrincipalId"])
def test_every_storage_call_of_the_code_and_the_host_is_allowed_by_the_roles_of(principal: str) -> None:
    calls = sdk_calls_in_the_code()
    assert {"upload_blob", "download_blob", "submit_transaction"} <= calls, "the code scan finds nothing"
    assert calls - set(SDK_CALL_NEEDS) == set(), "add the data actions these calls need to SDK_CALL_NEEDS"
    needed = HOST_NEEDS.union(*(SDK_CALL_NEEDS[call] for call in calls))
    allowed = set().union(*(ROLE_ALLOWS.get(role, set()) for role in role_ids_granted_to(principal)))
    assert needed - allowed == set()
