"""The templates parse, and checkov finds nothing to fail in them: every exception is a commented skip in the template.

There is no Bicep compiler here (it downloads its binary), so pycep-parser stands in for `bicep build`: it catches
syntax errors, not misspelled properties or wrong types (see README, Deploy: `az deployment ... what-if`).
pycep's grammar is stricter than Bicep's in one way worth knowing: inside an object it takes at most 10 comment or
blank lines after `{` and at most 4 between two properties; keep longer explanations above the resource.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.infra.bicep import INFRA, CheckovRun, bicep_files, checkov_version, parse, template

SKIP_COMMENT = re.compile(r"//\s*checkov:skip=(?P<check>CKV2?_[A-Z]+_\d+)(?P<rest>.*)")


@pytest.mark.parametrize("path", bicep_files(), ids=lambda p: str(p.relative_to(INFRA)))
def test_every_bicep_file_parses(path: Path) -> None:
    assert parse(path)


def test_a_syntax_error_fails_the_parse(tmp_path: Path) -> None:
    broken = tmp_path / "broken.bicep"
    broken.write_text("param name string\nresource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {\n")
    with pytest.raises(Exception):  # noqa: B017, PT011 - pycep raises lark's or its own errors, all worth failing on
        parse(broken)


def test_every_module_a_template_uses_exists_and_every_module_file_is_used() -> None:
    used = {
        (path.parent / module["detail"]["path"]).resolve()
        for path in bicep_files()
        for module in template(str(path.relative_to(INFRA))).get("modules", {}).values()
    }
    assert all(path.is_file() for path in used), sorted(map(str, used))
    assert used == {path.resolve() for path in bicep_files() if path.name != "main.bicep"}


def test_checkov_parses_every_template_and_finds_no_failed_checks(checkov_runs: dict[str, CheckovRun]) -> None:
    report = checkov_runs["infra"].report
    # checkov exits 0 when it cannot parse a file: the report is the only place that says so.
    assert report["results"]["parsing_errors"] == []
    assert report["summary"]["parsing_errors"] == 0
    failed = [
        f"{c['check_id']} {c['resource']} ({c['file_path']}): {c['check_name']}"
        for c in report["results"]["failed_checks"]
    ]
    assert failed == []
    assert report["summary"]["resource_count"] >= len(bicep_files())


def test_checkov_is_the_pinned_version_and_every_check_it_runs_gives_a_result(
    checkov_runs: dict[str, CheckovRun],
) -> None:
    """The skips below were reviewed against one checkov version; a check that raises is only logged (exit 0)."""
    run = checkov_runs["infra"]
    assert run.report["summary"]["checkov_version"] == checkov_version()
    assert run.crashed_checks() == []


# Checks that hold what issue 6 asks of the templates: each must run and pass on its resource, so that a checkov
# upgrade or a change in a template's shape (checkov reads an `if` resource as an empty shell) cannot drop it.
GUARDING_CHECKS = {
    ("CKV_AZURE_3", "Microsoft.Storage/storageAccounts.storage"): "storage: HTTPS only",
    ("CKV_AZURE_44", "Microsoft.Storage/storageAccounts.storage"): "storage: TLS 1.2",
    ("CKV_AZURE_34", "Microsoft.Storage/storageAccounts/blobServices/containers.blobContainers"): "no public blobs",
    ("CKV_AZURE_70", "Microsoft.Web/sites.functionApp"): "the app: HTTPS only",
    ("CKV_AZURE_145", "Microsoft.Web/sites.functionApp"): "the app: TLS 1.2",
    ("CKV_AZURE_78", "Microsoft.Web/sites.functionApp"): "the app: no FTP deployments",
    ("CKV_AZURE_71", "Microsoft.Web/sites.functionApp"): "the app runs as a managed identity",
    ("CKV_AZURE_70", "Microsoft.Web/sites/config.authSettings"): "sign-in over HTTPS only",
    ("CKV_AZURE_131", "string.visionKey"): "the secure parameter has no hard-coded value",
}


@pytest.mark.parametrize(("check", "resource"), sorted(GUARDING_CHECKS))
def test_checkov_runs_and_passes_the_checks_that_guard_the_issues_requirements(
    checkov_runs: dict[str, CheckovRun], check: str, resource: str
) -> None:
    passed = {(c["check_id"], c["resource"]) for c in checkov_runs["infra"].report["results"]["passed_checks"]}
    assert (check, resource) in passed, GUARDING_CHECKS[check, resource]


def test_checkov_reports_a_syntax_error_as_a_parsing_error_and_not_as_a_failed_check(
    checkov_runs: dict[str, CheckovRun],
) -> None:
    report = checkov_runs["broken"].report
    assert report["summary"]["parsing_errors"] == 1
    assert report["summary"]["failed"] == 0


def test_every_skipped_check_is_skipped_in_its_template_with_a_reason(checkov_runs: dict[str, CheckovRun]) -> None:
    skipped = checkov_runs["infra"].report["results"]["skipped_checks"]
    for check in skipped:
        first, last = check["file_line_range"]
        lines = Path(check["file_abs_path"]).read_text().splitlines()[first - 1 : last]
        in_resource = [m for line in lines if (m := SKIP_COMMENT.search(line)) and m["check"] == check["check_id"]]
        assert in_resource, f"{check['check_id']} on {check['resource']} is not skipped by a comment inside it"
        assert check["check_result"]["suppress_comment"].strip(), f"{check['check_id']} on {check['resource']}"


def test_every_skip_comment_in_the_templates_gives_its_reason() -> None:
    skips = [
        (path.relative_to(INFRA), match["check"], match["rest"])
        for path in bicep_files()
        for match in SKIP_COMMENT.finditer(path.read_text())
    ]
    assert skips, "expected the checkov skips of storage.bicep and api.bicep"
    unexplained = [(str(path), check) for path, check, rest in skips if len(rest.lstrip(": ").split()) < 4]
    assert unexplained == []


def test_every_skip_comment_skips_a_check_checkov_ran_on_that_resource(checkov_runs: dict[str, CheckovRun]) -> None:
    """A skip that matches no check (a check renamed, retired or not run for this resource type) is stale: it would
    silently skip whatever check takes that id next, and it tells a reader a risk was weighed that never was."""
    skipped = [
        (Path(c["file_abs_path"]).resolve(), c["check_id"], c["file_line_range"])
        for c in checkov_runs["infra"].report["results"]["skipped_checks"]
    ]
    stale = []
    for path in bicep_files():
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if (match := SKIP_COMMENT.search(line)) is None:
                continue
            if not any(
                file == path.resolve() and check == match["check"] and first <= number <= last
                for file, check, (first, last) in skipped
            ):
                stale.append(f"{path.relative_to(INFRA)}:{number} {match['check']}")
    assert stale == [], "delete these skips: checkov reports no such check skipped there"
