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

from tests.infra.bicep import INFRA, Json, bicep_files, parse, template

SKIP_COMMENT = re.compile(r"//\s*checkov:skip=(?P<check>CKV2?_[A-Z]+_\d+)(?P<rest>.*)")


@pytest.mark.parametrize("path", bicep_files(), ids=lambda p: str(p.relative_to(INFRA)))
def test_every_bicep_file_parses(path: Path) -> None:
    assert parse(path)


def test_a_syntax_error_fails_the_parse(tmp_path: Path) -> None:
    broken = tmp_path / "broken.bicep"
    broken.write_text("param name string\nresource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {\n")
    with pytest.raises(Exception):  # noqa: B017, PT011 - pycep raises lark's or its own errors, all worth failing on
        parse(broken)


def test_every_module_main_bicep_uses_exists_and_every_module_file_is_used() -> None:
    used = {(INFRA / m["detail"]["path"]).resolve() for m in template("main.bicep")["modules"].values()}
    assert all(path.is_file() for path in used), sorted(map(str, used))
    assert used == {path.resolve() for path in bicep_files() if path.name != "main.bicep"}


def test_checkov_parses_every_template_and_finds_no_failed_checks(checkov_reports: dict[str, Json]) -> None:
    report = checkov_reports["infra"]
    # checkov exits 0 when it cannot parse a file: the report is the only place that says so.
    assert report["results"]["parsing_errors"] == []
    assert report["summary"]["parsing_errors"] == 0
    failed = [
        f"{c['check_id']} {c['resource']} ({c['file_path']}): {c['check_name']}"
        for c in report["results"]["failed_checks"]
    ]
    assert failed == []
    assert report["summary"]["resource_count"] >= len(bicep_files())


def test_checkov_reports_a_syntax_error_as_a_parsing_error_and_not_as_a_failed_check(
    checkov_reports: dict[str, Json],
) -> None:
    report = checkov_reports["broken"]
    assert report["summary"]["parsing_errors"] == 1
    assert report["summary"]["failed"] == 0


def test_every_skipped_check_is_skipped_in_its_template_with_a_reason(checkov_reports: dict[str, Json]) -> None:
    skipped = checkov_reports["infra"]["results"]["skipped_checks"]
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
