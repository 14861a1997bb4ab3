"""Azure DevOps Boards sink against a loopback work item tracking API (7.1)."""

from __future__ import annotations

import copy

import pytest

from audit_function.errors import ConfigError
from audit_function.tickets import TicketAuthError, run_ticket_step
from tests.history.factory import SUB_A, SUB_B, finding, report, vault

A = vault("kv-a", SUB_A)
B = vault("kv-b", SUB_B)
F1 = finding("public-network-open", A)
F2 = finding("purge-protection-disabled", A)
F3 = finding("no-private-endpoint", B)


def doc(findings, run_id="w1", **kwargs):
    return report(run_id, "2025-03-03T06:00:00Z", [A, B], copy.deepcopy(findings), **kwargs)


def step(server, session, sleeps, report_doc, env_name="AZURE_DEVOPS_EXT_PAT", **settings):
    settings = {"sink": "azure-devops",
                "azureDevOps": {"organizationUrl": server.org_url, "project": "Sec Ops"},
                **settings}
    return run_ticket_step(report_doc, settings, env={env_name: server.token},
                           session=session, sleep=sleeps)


def tags(item) -> list[str]:
    return [t.strip() for t in item["fields"]["System.Tags"].split(";")]


def test_three_runs_create_once_then_update_only_what_changed(ado, session, sleeps):
    first = step(ado, session, sleeps, doc([F1, F2, F3]))
    assert first.counts == {"create": 3}
    create = next(r for r in ado.requests if r["method"] == "POST" and "/workitems/$" in r["path"])
    assert create["path"].endswith("/_apis/wit/workitems/$Issue")
    assert create["headers"]["content-type"] == "application/json-patch+json"
    assert create["headers"]["authorization"].startswith("Basic ")
    item = ado.items[100]
    assert item["fields"]["System.Title"] == "kv-audit: Public network open (kv-a)"
    assert item["fields"]["Microsoft.VSTS.Common.Priority"] == 1
    assert f"kv-audit-fp-{F1['fingerprint']}" in tags(item) and "kv-audit" in tags(item)
    assert "kv-audit-digest:" in item["fields"]["System.Description"]

    writes = len(ado.writes())
    second = step(ado, session, sleeps, doc([F1, F2, F3], "w2"), env_name="KV_AUDIT_ADO_TOKEN")
    assert second.counts == {"unchanged": 3}
    assert len(ado.writes()) == writes

    changed = dict(copy.deepcopy(F3), severity="medium")
    third = step(ado, session, sleeps, doc([F1, F2, changed], "w3"))
    assert third.counts == {"update": 1, "unchanged": 2}
    assert ado.items[102]["fields"]["Microsoft.VSTS.Common.Priority"] == 2
    assert len(ado.items) == 3
    wiql = next(r for r in ado.requests if r["path"].endswith("/wiql"))
    assert "[System.TeamProject] = @project" in wiql["body"]["query"]


def test_resolved_items_get_history_and_the_closed_state(ado, session, sleeps):
    step(ado, session, sleeps, doc([F1, F2]))
    fixed = doc([F2], "w2")
    fixed["resolved"] = [dict(F1, lastSeen="2025-03-03T06:00:00Z")]
    summary = step(ado, session, sleeps, fixed, closeResolved=True)
    assert summary.counts == {"close": 1, "unchanged": 1}
    item = ado.items[100]
    assert item["fields"]["System.State"] == "Done"
    assert "kv-audit-resolved" in tags(item)
    assert "no longer found in run w2" in ado.history[100][0]
    assert [i["id"] for i in ado.open_items()] == [101]
    assert step(ado, session, sleeps, fixed, closeResolved=True).counts == {"unchanged": 1}

    back = doc([F1, F2], "w3")
    assert step(ado, session, sleeps, back).counts == {"reopen": 1, "unchanged": 1}
    assert item["fields"]["System.State"] == "To Do"
    assert "kv-audit-resolved" not in tags(item)
    assert "the finding is back" in ado.history[100][-1]


def test_work_item_settings_are_used(ado, session, sleeps):
    step(ado, session, sleeps, doc([F3]), azureDevOps={
        "organizationUrl": ado.org_url + "/", "project": "Sec Ops", "workItemType": "Bug Report",
        "areaPath": "Sec Ops\\Vaults", "priorityField": None, "tags": ["security"]})
    item = ado.items[100]
    assert item["fields"]["System.WorkItemType"] == "Bug Report"
    assert item["fields"]["System.AreaPath"] == "Sec Ops\\Vaults"
    assert "Microsoft.VSTS.Common.Priority" not in item["fields"]
    assert "security" in tags(item)


def test_more_than_200_items_are_read_in_batches(ado, session, sleeps):
    for n in range(250):   # tagged kv-audit by hand, without a key: never touched
        ado.items[1000 + n] = {"id": 1000 + n, "rev": 1, "fields": {
            "System.State": "To Do", "System.Tags": "kv-audit", "System.Title": "manual"}}
    step(ado, session, sleeps, doc([F1]))
    summary = step(ado, session, sleeps, doc([F1], "w2"))
    assert summary.counts == {"unchanged": 1}
    batches = [r for r in ado.requests if r["method"] == "GET"]
    assert len(batches) == 4 and all(len(b["query"]["ids"][0].split(",")) <= 200 for b in batches)


def test_429_with_retry_after_is_waited_out(ado, session, sleeps):
    ado.fail_next(429, headers={"Retry-After": "12"},
                  body={"message": "TF400733: The request has been canceled"}, method="POST")
    summary = step(ado, session, sleeps, doc([F1]))
    assert summary.counts == {"create": 1} and sleeps == [12.0]
    assert len(ado.items) == 1


def test_auth_failures_name_the_sink_and_both_variables(ado, session, sleeps):
    settings = {"sink": "azure-devops",
                "azureDevOps": {"organizationUrl": ado.org_url, "project": "Sec Ops"}}
    with pytest.raises(TicketAuthError) as caught:
        run_ticket_step(doc([F1]), settings, env={"AZURE_DEVOPS_EXT_PAT": "expired"},
                        session=session, sleep=sleeps)
    message = str(caught.value)
    assert message.startswith("azure-devops: authentication failed (HTTP 401)")
    assert "AZURE_DEVOPS_EXT_PAT or KV_AUDIT_ADO_TOKEN" in message and "expired" not in message
    ado.sign_in_page = True
    with pytest.raises(TicketAuthError, match=r"azure-devops: authentication failed \(HTTP 203\)"):
        run_ticket_step(doc([F1]), settings, env={"KV_AUDIT_ADO_TOKEN": "expired"},
                        session=session, sleep=sleeps)
    assert sleeps == [] and ado.items == {}
    with pytest.raises(ConfigError, match="set AZURE_DEVOPS_EXT_PAT or KV_AUDIT_ADO_TOKEN"):
        run_ticket_step(doc([F1]), settings, env={})
    with pytest.raises(ConfigError, match="organization URL"):
        run_ticket_step(doc([F1]), {"sink": "azure-devops", "azureDevOps": {"project": "p"}},
                        env={"KV_AUDIT_ADO_TOKEN": "t"})


def test_a_user_who_cannot_tag_stops_instead_of_duplicating(ado, session, sleeps):
    from audit_function.tickets import TicketSinkError
    ado.drop_tags = True
    with pytest.raises(TicketSinkError, match=r"saved without the tag 'kv-audit-fp-"):
        step(ado, session, sleeps, doc([F1, F2]))
    assert len(ado.items) == 1
