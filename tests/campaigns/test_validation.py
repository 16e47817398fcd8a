"""Campaign files and templates are validated before anything is planned or sent, and a problem
names the file, the line and the reason."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from growthlab.campaigns.validation import CatalogError, load_catalog
from tests.campaigns.conftest import CAMPAIGNS, write_simple_campaign


def _errors(folder: Path) -> list[str]:
    with pytest.raises(CatalogError) as info:
        load_catalog(folder)
    return [str(e) for e in info.value.errors]


def _line_of(path: Path, needle: str) -> int:
    for i, line in enumerate(path.read_text().splitlines(), start=1):
        if needle in line:
            return i
    raise AssertionError(f"{needle!r} not in {path}")


def test_the_shipped_campaigns_are_valid():
    catalog = load_catalog(CAMPAIGNS)
    assert {"decarb_platform", "csrd_readiness"} <= set(catalog.campaigns)
    decarb = catalog.campaigns["decarb_platform"].campaign
    assert [s.id for s in decarb.followers("intro")] == ["bump", "case_study", "book_call"]
    # a step without `after` follows the previous one
    assert decarb.step("last_call").after == "bump"


def test_a_misspelt_key_names_file_line_and_a_suggestion(campaign_dir):
    path = campaign_dir / "decarb_platform.yaml"
    path.write_text(path.read_text().replace("  segments:", "  segmnts:"))
    errors = _errors(campaign_dir)
    assert errors == [f"{path}:{_line_of(path, 'segmnts')}: unknown key 'segmnts' (did you mean 'segments'?)"]


def test_bad_values_are_reported_together_with_their_lines(campaign_dir):
    path = campaign_dir / "decarb_platform.yaml"
    text = (
        path.read_text()
        .replace("wait_days: 4", "wait_days: -4")
        .replace(
            "angle: case_study, template: decarb_platform/book_call.j2",
            "angle: casestudy, template: decarb_platform/book_call.j2",
        )
    )
    path.write_text(text)
    errors = _errors(campaign_dir)
    assert len(errors) == 2, errors
    assert errors[0].startswith(
        f"{path}:{_line_of(path, 'wait_days: -4')}: steps.2.wait_days: Input should be greater"
    )
    assert errors[1].startswith(
        f"{path}:{_line_of(path, 'casestudy')}: steps.3.variants.0.angle: Input should be"
    )
    assert "'casestudy'" in errors[1]


def test_yaml_syntax_errors_and_duplicate_keys_name_the_line(campaign_dir):
    path = campaign_dir / "csrd_readiness.yaml"
    original = path.read_text()
    path.write_text(original.replace("consent: strict", "consent: strict\nconsent: standard"))
    (line,) = [i for i, ln in enumerate(path.read_text().splitlines(), 1) if ln == "consent: standard"]
    assert _errors(campaign_dir) == [
        f"{path}:{line}: duplicate key 'consent' (first defined on line {line - 1}); remove one of them"
    ]
    path.write_text(original.replace("grades: [A, B]", "grades: [A, B"))
    (error,) = _errors(campaign_dir)
    assert re.match(rf"{re.escape(str(path))}:\d+: YAML syntax error", error), error


def test_sequence_rules(campaign_dir):
    path = write_simple_campaign(campaign_dir)
    text = path.read_text()
    path.write_text(
        text.replace(
            "    after: intro\n    wait_days: 4\n    when: opened_no_click",
            "    after: nowhere\n    wait_days: 4\n    when: no_open",
        )
    )
    errors = _errors(campaign_dir)
    assert (
        f"{path}:{_line_of(path, 'after: nowhere')}: step 'case_study' follows 'nowhere', which is not an earlier step"
        in errors
    )
    path.write_text(text.replace("    when: opened_no_click", "    when: no_open"))
    errors = _errors(campaign_dir)
    second = [i for i, ln in enumerate(path.read_text().splitlines(), 1) if "when: no_open" in ln][1]
    assert errors == [f"{path}:{second}: two steps follow 'intro' on the same condition 'no_open'"]


def test_file_name_must_match_the_id_and_postal_address_is_required(campaign_dir, monkeypatch):
    monkeypatch.delenv("GROWTHLAB_SENDER_POSTAL_ADDRESS", raising=False)
    path = write_simple_campaign(campaign_dir)
    path.write_text(
        path.read_text().replace(
            "  postal_address: HelioGrid Analytics GmbH, Torstrasse 49, 10119 Berlin, Germany\n", ""
        )
    )
    path.rename(campaign_dir / "other_name.yaml")
    moved = campaign_dir / "other_name.yaml"
    errors = _errors(campaign_dir)
    assert f"{moved}:1: campaign id 'test_seq' must match the file name 'other_name'" in errors
    assert any(e.startswith(f"{moved}:4: no postal address") for e in errors), errors
    monkeypatch.setenv("GROWTHLAB_SENDER_POSTAL_ADDRESS", "1 Main St, Springfield")
    moved.rename(campaign_dir / "test_seq.yaml")
    assert load_catalog(campaign_dir).campaigns["test_seq"].postal_address == "1 Main St, Springfield"


def test_template_syntax_error_names_template_and_line(campaign_dir):
    template = campaign_dir / "templates" / "decarb_platform" / "bump.j2"
    lines = template.read_text().splitlines()
    lines[4] = lines[4] + " {% if company.name %}"  # never closed
    template.write_text("\n".join(lines) + "\n")
    errors = _errors(campaign_dir)
    assert len(errors) == 1, errors
    # Jinja reports it where the unclosed `if` meets the block's end
    end_line = len(lines)
    assert errors[0].startswith(
        f"{template}:{end_line}: template syntax error: Encountered unknown tag 'endblock'"
    )


def test_undefined_variable_is_caught_with_the_template_line(campaign_dir):
    template = campaign_dir / "templates" / "decarb_platform" / "case_study.j2"
    text = template.read_text().replace(
        "{{ company.segment_label }} customers", "{{ company.segmnt }} customers"
    )
    template.write_text(text)
    line = next(i for i, ln in enumerate(text.splitlines(), 1) if "company.segmnt" in ln)
    assert _errors(campaign_dir) == [
        f"{template}:{line}: block 'body': undefined variable: 'dict object' has no attribute 'segmnt' "
        "(rendering for a complete lead)"
    ]


def test_a_template_that_breaks_only_for_sparse_leads_is_caught(campaign_dir):
    template = campaign_dir / "templates" / "decarb_platform" / "bump.j2"
    template.write_text(
        template.read_text().replace(
            "A quick nudge", "{{ '%.0f' % company.renewable_share }}% renewable. A quick nudge"
        )
    )
    (error,) = _errors(campaign_dir)
    assert error.startswith(f"{template}:5: block 'body': TypeError")
    assert error.endswith("(rendering for a sparse lead (no name, company or score))")


def test_missing_template_and_missing_block(campaign_dir):
    path = campaign_dir / "decarb_platform.yaml"
    path.write_text(path.read_text().replace("decarb_platform/bump.j2", "decarb_platform/nope.j2"))
    errors = _errors(campaign_dir)
    assert errors == [
        f"{path}:{_line_of(path, 'nope.j2')}: template 'decarb_platform/nope.j2' not found in {campaign_dir / 'templates'}"
    ]
    path.write_text(path.read_text().replace("decarb_platform/nope.j2", "decarb_platform/bump.j2"))
    template = campaign_dir / "templates" / "decarb_platform" / "bump.j2"
    template.write_text(template.read_text().replace("{% block subject %}", "{% block subjekt %}"))
    errors = _errors(campaign_dir)
    assert errors[0].startswith(f"{template}: missing block(s) subject")
