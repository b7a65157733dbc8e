"""The contract between the code and infra/: what the code names and reads, the templates provision, set and allow."""

from __future__ import annotations

import json
import re

import pytest

from tagging import config
from tests.infra.bicep import (
    INFRA,
    ROOT,
    Json,
    body,
    module_params,
    one_resource,
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


def test_the_named_connection_and_the_host_storage_are_identity_based() -> None:
    settings = app_settings()
    assert config.CONNECTION not in settings, "a connection string would need a storage key"
    assert "AzureWebJobsStorage" not in settings, "a connection string would need a storage key"
    for service in ("blob", "queue", "table"):
        assert settings[f"{config.CONNECTION}__{service}ServiceUri"] == f"storage.outputs.{service}Endpoint"
    assert settings[f"{config.CONNECTION}__credential"] == "managedidentity"
    assert settings[f"{config.CONNECTION}__clientId"] == "identity.outputs.clientId"
    assert settings["AzureWebJobsStorage__accountName"] == "storageAccountName"
    assert settings["AzureWebJobsStorage__credential"] == "managedidentity"
    assert settings["AzureWebJobsStorage__clientId"] == "identityClientId"
    assert not {"FUNCTIONS_WORKER_RUNTIME", "FUNCTIONS_EXTENSION_VERSION"} & set(settings), (
        "Flex Consumption refuses them"
    )


def test_the_limits_are_parameters_defaulting_to_the_codes_defaults() -> None:
    parameters = template("main.bicep")["parameters"]
    settings = app_settings()
    for setting, parameter, default in [
        (config.MAX_UPLOAD_BYTES_SETTING, "maxUploadBytes", config.DEFAULT_MAX_UPLOAD_BYTES),
        (config.MAX_PIXELS_SETTING, "maxPixels", config.DEFAULT_MAX_PIXELS),
    ]:
        assert settings[setting] == {"function": {"type": "string", "parameters": {"value_to_convert": parameter}}}
        assert parameters[parameter]["type"] == "int"
        assert parameters[parameter]["default"] == default


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


def test_the_developer_gets_the_data_roles_only_when_asked() -> None:
    assert role_ids_granted_to("developerPrincipalId") == role_ids_granted_to("identityPrincipalId") - {
        MONITORING_METRICS_PUBLISHER
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


def test_the_deployed_python_version_is_the_one_the_readme_states_and_ci_runs() -> None:
    main = template("main.bicep")
    assert main["variables"]["pythonVersion"]["value"] == "3.11"
    assert "Python 3.11" in (ROOT / "README.md").read_text()
    assert "sys.version_info[:2] != (3, 11)" in (ROOT / ".ci" / "run").read_text()
    assert module_params("api")["pythonVersion"] == "pythonVersion"
    site = body(one_resource(template("app/api.bicep"), "Microsoft.Web/sites"))
    assert site["properties"]["functionAppConfig"]["runtime"] == {"name": "python", "version": "pythonVersion"}


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
    auth = one_resource(template("app/api.bicep"), "Microsoft.Web/sites/config")
    assert auth["config"]["condition"] == not_empty("authClientId")
    properties = body(auth)["properties"]
    assert body(auth)["name"] == "authsettingsV2"
    assert properties["globalValidation"] == {"requireAuthentication": True, "unauthenticatedClientAction": "Return401"}
    entra = properties["identityProviders"]["azureActiveDirectory"]
    assert entra["enabled"] is True
    assert entra["registration"]["clientId"] == "authClientId"
    assert template("main.bicep")["parameters"]["authClientId"]["default"] == ""
    assert module_params("api")["authClientId"] == "authClientId"


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
    BLOB_DATA_OWNER: {"containers/write", "blobs/read", "blobs/write", "blobs/delete", "blobs/add"},
    BLOB_DATA_CONTRIBUTOR: {"containers/write", "blobs/read", "blobs/write", "blobs/delete", "blobs/add"},
    QUEUE_DATA_CONTRIBUTOR: {"queues/write", "messages/read", "messages/write", "messages/delete", "messages/add",
                             "messages/process"},
    TABLE_DATA_CONTRIBUTOR: {"tables/write", "entities/read", "entities/add", "entities/update", "entities/delete"},
}  # fmt: skip

# The data actions of every storage SDK call that does I/O; client factories need none. A new call in the code
# fails the test below until it is added here, so that nobody forgets to check the roles for it.
SDK_CALL_NEEDS = {
    "get_blob_client": set(), "get_container_client": set(), "get_table_client": set(),
    "from_connection_string": set(),
    "create_container": {"containers/write"},
    "upload_blob": {"blobs/write", "blobs/add"},
    "download_blob": {"blobs/read"},
    "get_blob_properties": {"blobs/read"},
    "delete_blob": {"blobs/delete"},
    "create_table": {"tables/write"},
    "get_entity": {"entities/read"},
    "query_entities": {"entities/read"},
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


def test_every_storage_call_of_the_code_and_the_host_is_allowed_by_the_apps_roles() -> None:
    calls = sdk_calls_in_the_code()
    assert {"upload_blob", "download_blob", "submit_transaction"} <= calls, "the code scan finds nothing"
    assert calls - set(SDK_CALL_NEEDS) == set(), "add the data actions these calls need to SDK_CALL_NEEDS"
    needed = HOST_NEEDS.union(*(SDK_CALL_NEEDS[call] for call in calls))
    allowed = set().union(*(ROLE_ALLOWS.get(role, set()) for role in role_ids_granted_to("identityPrincipalId")))
    assert needed - allowed == set()
