"""Data-action universe, pattern matching and the access-policy mapping."""

import pytest

from audit_function import permissions as p

SECRET_GET = "Microsoft.KeyVault/vaults/secrets/getSecret/action"
SECRET_LIST = "Microsoft.KeyVault/vaults/secrets/readMetadata/action"


def test_universe_is_the_53_vault_data_actions_of_the_provider_list():
    assert len(p.DATA_ACTIONS) == 53
    assert all(a.lower().startswith("microsoft.keyvault/vaults/") for a in p.DATA_ACTIONS)
    assert p.bit("Microsoft.KeyVault/managedHsm/keys/read/action") == 0


@pytest.mark.parametrize("pattern, action, expected", [
    ("*", "Microsoft.KeyVault/vaults/write", True),
    ("Microsoft.KeyVault/*", "microsoft.keyvault/VAULTS/secrets/getSecret/action", True),
    ("Microsoft.KeyVault/vaults/*/read", "Microsoft.KeyVault/vaults/keys/read", True),
    ("Microsoft.KeyVault/vaults/*/read", "Microsoft.KeyVault/vaults/storageaccounts/sas/read", True),  # * spans '/'
    ("Microsoft.KeyVault/vaults/secrets/*", "Microsoft.KeyVault/vaults/keys/read", False),
    ("Microsoft.KeyVault/vaults/sec*ts/getSecret/action", SECRET_GET, True),                  # * mid-segment
    ("Microsoft.KeyVault/vaults/secrets/getSecret/action", SECRET_GET.upper(), True),
    ("Microsoft.KeyVault/vaults/secrets/getSecret", SECRET_GET, False),                       # no implicit prefix
    ("Microsoft.KeyVault/vaults/[a-z]*", SECRET_GET, False),                                  # regex chars literal
])
def test_pattern_matching(pattern, action, expected):
    assert p.matches(pattern, action) is expected


def test_pattern_mask_and_describe():
    mask = p.pattern_mask("Microsoft.KeyVault/vaults/secrets/*")
    assert set(p.names(mask)) == {a for a in p.DATA_ACTIONS if "/secrets/" in a}
    assert p.describe(p.bit(SECRET_GET) | p.bit(SECRET_LIST)) == "secrets: getSecret, readMetadata"


def test_policy_mapping_all_excludes_purge_and_names_are_case_insensitive():
    all_secrets = p.permission_mask("secrets", "All")
    assert not all_secrets & p.bit("Microsoft.KeyVault/vaults/secrets/purge/action")
    assert all_secrets | p.permission_mask("secrets", "purge") == p.pattern_mask("Microsoft.KeyVault/vaults/secrets/*")
    assert p.permission_mask("keys", "UnwrapKey") == p.bit("Microsoft.KeyVault/vaults/keys/unwrap/action")
    assert p.permission_mask("secrets", "set") == (p.bit("Microsoft.KeyVault/vaults/secrets/setSecret/action")
                                                    | p.bit("Microsoft.KeyVault/vaults/secrets/update/action"))
    assert p.permission_mask("keys", "no-such-permission") is None
    assert p.permission_mask("nonsense", "get") is None


def test_every_documented_permission_maps():
    documented = {
        "keys": "encrypt decrypt wrapKey unwrapKey sign verify get list create update import delete backup restore "
                "recover purge release rotate getrotationpolicy setrotationpolicy",
        "secrets": "get list set delete backup restore recover purge",
        "certificates": "get list delete create import update managecontacts getissuers listissuers setissuers "
                        "deleteissuers manageissuers recover purge backup restore",
        "storage": "get list delete set update regeneratekey recover purge backup restore setsas listsas getsas deletesas",
    }
    for category, words in documented.items():
        for name in words.split():
            assert p.permission_mask(category, name), (category, name)


def test_release_certificate_is_the_only_action_no_policy_grants():
    assert p.names(p.ALL_DATA & ~p.POLICY_UNIVERSE) == ["Microsoft.KeyVault/vaults/certificates/release/action"]
