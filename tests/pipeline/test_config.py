"""The configuration file: loading, defaults, and errors that name the file and the line."""

from __future__ import annotations

from datetime import date

import pytest

from audit_function.pipeline.config import AuditConfig, Thresholds, load_config
from audit_function.errors import ConfigError
from tests.history.factory import KNOWN_RULES

GOOD_YAML = """\
suppressions:
  - id: dev-soft-delete
    ruleId: soft-delete-disabled
    tag: {env: dev}
    justification: dev vaults are rebuilt nightly
    owner: platform-team@contoso.com
    expires: 2025-06-30
  - ruleId: '*'
    vault: kv-legacy-*
    principalId: 00000000-aaaa-bbbb-cccc-000000000001
    justification: decommissioning in Q3
    owner: legacy-team
    expires: '2025-09-30'
severityOverrides:
  no-private-endpoint: Medium
thresholds:
  firewallMinPrefixV4: 16
tickets:
  sink: github
  groupBy: vault
  closeResolved: true
  github: {repository: contoso/security, labels: [kv-audit, security]}
"""


def write(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_yaml_file_loads_every_section(tmp_path):
    config = load_config(write(tmp_path, "kv.yaml", GOOD_YAML), KNOWN_RULES)
    first, second = config.suppressions
    assert (first.id, first.rule_id, first.tag, first.expires) == (
        "dev-soft-delete", "soft-delete-disabled", (("env", "dev"),), date(2025, 6, 30))
    assert first.line == 2 and first.index == 0
    assert (second.ref, second.vault, second.expires) == ("suppressions[1]", "kv-legacy-*",
                                                          date(2025, 9, 30))
    assert config.severity_overrides == {"no-private-endpoint": "medium"}
    assert config.thresholds == Thresholds(firewall_min_prefix_v4=16, firewall_min_prefix_v6=32)
    assert config.tickets == {"sink": "github", "groupBy": "vault", "closeResolved": True,
                              "github": {"repository": "contoso/security",
                                         "labels": ["kv-audit", "security"]}}


def test_json_file_gives_the_same_config(tmp_path):
    text = """{
  "suppressions": [
    {"ruleId": "public-network-open", "vault": "kv-web", "justification": "behind front door",
     "owner": "web", "expires": "2025-05-01"}
  ],
  "thresholds": {"firewallMinPrefixV6": 48}
}"""
    config = load_config(write(tmp_path, "kv.json", text), KNOWN_RULES)
    assert config.suppressions[0].vault == "kv-web"
    assert config.suppressions[0].line == 3
    assert config.thresholds.firewall_min_prefix_v6 == 48
    assert config.thresholds.firewall_min_prefix_v4 == 8


def test_empty_file_and_default_are_the_defaults(tmp_path):
    config = load_config(write(tmp_path, "empty.yml", "# nothing yet\n"), KNOWN_RULES)
    assert config.suppressions == () and config.severity_overrides == {} and config.tickets is None
    assert config.thresholds == AuditConfig.default().thresholds == Thresholds(8, 32)


@pytest.mark.parametrize("name, text, expected", [
    ("a.yaml", "suppressions:\n  - ruleId: public-network-open\n    justification: x\n"
               "    owner: y\n    expires: 2025-01-01\n    vualt: kv-1\n",
     "a.yaml:6: suppressions[0]: unknown key 'vualt' (did you mean 'vault'?)"),
    ("b.yaml", "severityOverrides:\n  public-network-open: high\n  publik-network-open: low\n",
     "b.yaml:3: severityOverrides: unknown rule id 'publik-network-open' (did you mean "
     "'public-network-open'?)"),
    ("c.yaml", "suppressions:\n  - ruleId: latent-grant\n    owner: me\n    expires: 2025-01-01\n",
     "c.yaml:2: suppressions[0]: 'justification' is required"),
    ("d.yaml", "suppressions:\n  - ruleId: latent-grant\n    justification: j\n    owner: me\n"
               "    expires: next week\n",
     "d.yaml:5: suppressions[0].expires must be a date written YYYY-MM-DD"),
    ("e.yaml", "thresholds:\n  firewallMinPrefixV4: 40\n",
     "e.yaml:2: thresholds.firewallMinPrefixV4 must be between 0 and 32"),
    ("f.yaml", "suppressions:\n  - ruleId: '*'\n    justification: j\n    owner: o\n"
               "    expires: 2025-01-01\n",
     "f.yaml:2: suppressions[0]: ruleId '*' needs at least one of vault"),
    ("g.yaml", "tickets:\n  sink: jira\n", "g.yaml:2: tickets.sink: 'jira' is not one of"),
    ("h.yaml", "suppresions: []\n",
     "h.yaml:1: the configuration file: unknown key 'suppresions' (did you mean 'suppressions'?)"),
    ("i.yaml", "thresholds:\n  firewallMinPrefixV4: 8\n  firewallMinPrefixV4: 9\n",
     "i.yaml:3: duplicate key 'firewallMinPrefixV4'"),
    ("j.yaml", "suppressions:\n  - ruleId: x\n   bad: indent\n", "j.yaml:3: invalid YAML"),
    ("k.yaml", "severityOverrides:\n  latent-grant: critical\n",
     "k.yaml:2: severityOverrides.latent-grant: 'critical' is not one of high, medium, low"),
    ("l.json", '{\n  "thresholds": {\n    "firewallMinPrefixV4": "8"\n  }\n}\n',
     "l.json:3: thresholds.firewallMinPrefixV4 must be a whole number"),
    ("m.json", '{\n  "suppressions": [\n    {"ruleId": "latent-grant",}\n  ]\n}\n',
     "m.json:3: invalid JSON"),
    ("n.json", '{"tickets": {"sink": "csv"},\n "tickets": {}}', "n.json:2: duplicate key 'tickets'"),
    ("o.json", '{\n "suppressions": [\n  {"ruleId": "latent-grant", "justification": "j",\n'
               '   "owner": "o", "expires": "2025-02-30"}]}\n',
     "o.json:4: suppressions[0].expires: '2025-02-30' is not a valid date"),
])
def test_errors_name_file_line_and_what(tmp_path, name, text, expected):
    path = write(tmp_path, name, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path, KNOWN_RULES)
    message = str(caught.value)
    assert message.startswith(str(tmp_path)), message
    assert expected in message, message


def test_duplicate_suppression_ids_are_rejected(tmp_path):
    entry = "  - id: same\n    ruleId: latent-grant\n    justification: j\n    owner: o\n" \
            "    expires: 2025-01-01\n"
    path = write(tmp_path, "dup.yaml", "suppressions:\n" + entry + entry)
    with pytest.raises(ConfigError, match=r"dup.yaml:7: suppressions\[1\]: id 'same' is already"):
        load_config(path, KNOWN_RULES)


def test_unsupported_extension_and_missing_file(tmp_path):
    with pytest.raises(ConfigError, match=r"kv.toml: unsupported configuration file type"):
        load_config(write(tmp_path, "kv.toml", ""), KNOWN_RULES)
    with pytest.raises(ConfigError, match=r"missing.yaml: cannot read"):
        load_config(tmp_path / "missing.yaml", KNOWN_RULES)


def test_rule_ids_are_not_checked_when_the_catalog_is_not_given(tmp_path):
    text = "suppressions:\n  - ruleId: some-future-rule\n    justification: j\n    owner: o\n" \
           "    expires: 2025-01-01\n"
    config = load_config(write(tmp_path, "t.yaml", text), None)
    assert config.suppressions[0].rule_id == "some-future-rule"


def test_yaml_plain_scalars_keep_their_text(tmp_path):
    text = "suppressions:\n  - ruleId: latent-grant\n    resourceGroup: 0012\n" \
           "    tag: {critical: no}\n    justification: j\n    owner: o\n    expires: 2025-01-01\n"
    suppression = load_config(write(tmp_path, "s.yaml", text), KNOWN_RULES).suppressions[0]
    assert suppression.resource_group == "0012"
    assert suppression.tag == (("critical", "no"),)


def test_owner_tags_default_and_configured(tmp_path):
    assert AuditConfig.default().owner_tags == ("owner", "Owner", "technicalContact")
    assert load_config(write(tmp_path, "empty.yaml", ""), KNOWN_RULES).owner_tags == ("owner", "Owner",
                                                                                       "technicalContact")
    config = load_config(write(tmp_path, "kv.yaml", "ownerTags: [team, Owner, 'cost center']\n"), KNOWN_RULES)
    assert config.owner_tags == ("team", "Owner", "cost center")
    config = load_config(write(tmp_path, "kv.json", '{\n  "ownerTags": ["technicalContact"]\n}\n'), KNOWN_RULES)
    assert config.owner_tags == ("technicalContact",)


@pytest.mark.parametrize("text, expected", [
    ("ownerTags: owner\n", "kv.yaml:1: ownerTags must be a non-empty list of tag names"),
    ("ownerTags: []\n", "kv.yaml:1: ownerTags must be a non-empty list of tag names"),
    ("ownerTags:\n", "kv.yaml:1: ownerTags must be a non-empty list of tag names"),
    ("severityOverrides: {}\nownerTags:\n  - owner\n  - ''\n", "kv.yaml:4: ownerTags[1] must not be empty"),
    ("ownerTags:\n  - owner\n  - [a]\n", "kv.yaml:3: ownerTags[1] must be a string"),
    ("ownerTags:\n  - owner\n  - team\n  - owner\n",
     "kv.yaml:4: ownerTags[2]: 'owner' is already listed as ownerTags[0]"),
    ("ownerTag: [owner]\n", "kv.yaml:1: the configuration file: unknown key 'ownerTag' (did you mean 'ownerTags'?)"),
])
def test_owner_tag_errors_name_the_line(tmp_path, text, expected):
    with pytest.raises(ConfigError) as error:
        load_config(write(tmp_path, "kv.yaml", text), KNOWN_RULES)
    assert str(error.value).startswith(str(tmp_path / expected.split(":", 1)[0]) + ":" + expected.split(":", 1)[1])


def test_owner_tags_from_the_config_file_reach_the_findings(tmp_path):
    from audit_function.pipeline.run import AuditOptions, run_audit

    config = write(tmp_path, "kv.yaml", "ownerTags: [app]\n")
    outcome = run_audit(AuditOptions(source="demo", formats=("json",), config_path=config))
    owners = {f["vaultName"]: f["owner"] for f in outcome.result.report["findings"] if f["vaultName"]}
    assert owners and all(o is None or not o.endswith("@contoso.com") for o in owners.values())
    assert owners["kv-crm-dev"] == "crm"   # the demo vault's app tag
