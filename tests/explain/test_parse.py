"""Property-based tests of the error-text parser: every form, any ids and names, any escaping."""

from __future__ import annotations

import json
import string
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audit_function import permissions as perms
from audit_function.explain.parse import ExplainInputError, parse_error, resolve_action

guids = st.uuids().map(str)
vault_names = st.text(string.ascii_letters + string.digits + "-", min_size=3, max_size=24).filter(
    lambda s: s[0].isalpha() and not s.endswith("-"))
policy_pairs = st.sampled_from(sorted((c, p) for c, table in perms.POLICY_MAP.items() for p in table))
data_actions = st.sampled_from(perms.DATA_ACTIONS)
spellings = st.sampled_from([str.lower, str.upper, lambda s: s])
ips = st.ip_addresses(v=4).map(str)


def cli(app, oid, tenant, category, permission, vault):
    return (f"(Forbidden) The user, group or application 'appid={app};oid={oid};iss=https://sts.windows.net/{tenant}/' "
            f"does not have {category} {permission} permission on key vault '{vault};location=eastus'. For help "
            "resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125287")


def rbac(app, oid, action, resource):
    message = ("Caller is not authorized to perform action on resource.\nIf role assignments, deny assignments or role "
               f"definitions were changed recently, please observe propagation time.\nCaller: appid={app};oid={oid}\n"
               f"Action: '{action}'\nResource: '{resource}'")
    return json.dumps({"error": {"code": "Forbidden", "message": message, "innererror": {"code": "ForbiddenByRbac"}}})


@settings(max_examples=150, deadline=None)
@given(guids, guids, guids, policy_pairs, vault_names, spellings)
def test_cli_form_round_trips(app, oid, tenant, pair, vault, spell):
    category, permission = pair
    request = parse_error(cli(spell(app), spell(oid), tenant, category, permission, vault))
    assert request.form == "azure-cli"
    assert (request.object_id, request.app_id, request.token_tenant) == (oid, app, tenant)
    assert request.vault == vault and request.location == "eastus"
    assert request.action.need == perms.permission_mask(category, permission)


@settings(max_examples=150, deadline=None)
@given(guids, guids, data_actions, vault_names, st.text(string.ascii_letters + string.digits + "-", min_size=1, max_size=30),
       st.booleans(), st.booleans())
def test_rbac_body_round_trips_json_escaped_or_not(app, oid, action, vault, secret, escaped_again, dotnet):
    resource = f"/subscriptions/{uuid.uuid4()}/resourcegroups/rg/providers/microsoft.keyvault/vaults/{vault}/secrets/{secret}"
    text = rbac(app, oid, action, resource)
    if escaped_again:            # pasted from a log line that escaped the body once more
        text = json.dumps(text)[1:-1]
    if dotnet:
        text = f"Azure.RequestFailedException: Forbidden\r\nStatus: 403 (Forbidden)\r\nErrorCode: Forbidden\r\n\r\nContent:\r\n{text}"
    request = parse_error(text)
    assert request.object_id == oid and request.app_id == app
    assert request.action.names == (action,)
    assert request.vault == resource
    assert request.form == ("dotnet" if dotnet else "rbac-json")
    if not escaped_again:
        assert request.inner_code == "ForbiddenByRbac"


@settings(max_examples=100, deadline=None)
@given(guids, ips, vault_names)
def test_firewall_form_needs_no_action(oid, ip, vault):
    message = (f"Client address is not authorized and caller is not a trusted service.\r\nClient address: {ip}\r\n"
               f"Caller: appid={oid};oid={oid}\r\nVault: {vault};location=westeurope")
    request = parse_error(json.dumps({"error": {"code": "Forbidden", "message": message,
                                                "innererror": {"code": "ForbiddenByFirewall"}}}))
    assert (request.form, request.inner_code, request.client_ip, request.vault) == ("firewall", "ForbiddenByFirewall", ip, vault)
    assert request.action is None


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400))
def test_any_text_parses_or_names_what_is_missing(text):
    try:
        request = parse_error(text)
    except ExplainInputError as exc:
        assert "missing" in str(exc) or "empty" in str(exc) or "is not" in str(exc) or "ambiguous" in str(exc)
    else:
        assert request.vault


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(["oid", "vault", "action"]), guids, policy_pairs, vault_names)
def test_a_missing_part_is_named(drop, oid, pair, vault):
    text = cli(oid, oid, oid, pair[0], pair[1], vault)
    if drop == "oid":
        text = text.replace(f"oid={oid}", "")
    elif drop == "vault":
        text = text.replace(f"on key vault '{vault};location=eastus'", "")
    else:
        text = text.replace(f"does not have {pair[0]} {pair[1]} permission", "does not have permission")
    with pytest.raises(ExplainInputError) as exc:
        parse_error(text)
    words = {"oid": "the caller", "vault": "the vault", "action": "the action"}[drop]
    assert words in str(exc.value)
    for other in {"the caller", "the vault", "the action"} - {words}:
        assert other not in str(exc.value)   # only what is really missing is named


@given(data_actions, spellings)
def test_full_data_action_in_any_case(action, spell):
    assert resolve_action(spell(action)).names == (action,)


def test_verbs_and_permission_words():
    assert resolve_action("getSecret").names == ("Microsoft.KeyVault/vaults/secrets/getSecret/action",)
    assert resolve_action("secret get").policy == ("secrets", "get")
    with pytest.raises(ExplainInputError, match="ambiguous"):
        resolve_action("read")
    with pytest.raises(ExplainInputError, match="not a Key Vault data action"):
        resolve_action("Microsoft.KeyVault/vaults/read")
