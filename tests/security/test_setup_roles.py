"""`logferry setup` as the admin writes the product's roles and mappings into the real security
plugin, through the code the setup custom resource runs; running it again changes nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest

from logferry import provisioning
from logferry.config import Settings
from tests.security.conftest import (
    ANALYSTS,
    INGEST_ROLE_ARN,
    SETUP_ROLE_ARN,
    Secured,
    SecureNode,
    User,
    client_for,
    run_cli,
)
from tests.support import load_script

pytestmark = pytest.mark.security


def security_documents(superuser: Any) -> dict[str, tuple[int, int]]:
    """(_seq_no, _primary_term) of each configuration document in the security index: what
    the plugin rewrites whenever a role or a mapping is written."""
    found = superuser.search(
        index=".opendistro_security",
        body={"size": 100, "seq_no_primary_term": True, "_source": False},
    )
    return {h["_id"]: (h["_seq_no"], h["_primary_term"]) for h in found["hits"]["hits"]}


def test_setup_as_admin_writes_three_roles_mapped_to_their_backend_roles(
    secured: Secured, admin: Any
) -> None:
    for name, body in provisioning.roles.roles(secured.prefix).items():
        stored = admin.transport.perform_request(
            "GET", f"{provisioning.roles.SECURITY_API}/roles/{name}"
        )
        assert provisioning.roles._role_shape(stored[name]) == provisioning.roles._role_shape(
            body
        ), name
    expected = {
        provisioning.roles.WRITER_ROLE: [INGEST_ROLE_ARN],
        provisioning.roles.SETUP_ROLE: [SETUP_ROLE_ARN],
        provisioning.roles.READER_ROLE: [ANALYSTS],
    }
    for name, backend_roles in expected.items():
        mapping = admin.transport.perform_request(
            "GET", f"{provisioning.roles.SECURITY_API}/rolesmapping/{name}"
        )
        assert mapping[name]["backend_roles"] == backend_roles
    # the first run of the session wrote or confirmed each; then the rest of setup went on
    assert any(
        line.startswith(f"index template {secured.prefix}-logferry")
        for line in secured.setup_output
    )
    for name in expected:
        assert any(line.startswith(f"role {name} ") for line in secured.setup_output)


def test_setup_twice_changes_nothing_in_the_security_index(
    secured: Secured, superuser: Any
) -> None:
    before = security_documents(superuser)
    code, out, err = run_cli(["setup"], secured.setup_env)
    assert code == 0, err
    after = security_documents(superuser)
    assert after == before  # no configuration document written again
    lines = out.splitlines()
    for name in (
        provisioning.roles.WRITER_ROLE,
        provisioning.roles.SETUP_ROLE,
        provisioning.roles.READER_ROLE,
    ):
        assert f"role {name} up to date" in lines
        assert any(line.startswith(f"role {name} already mapped to ") for line in lines)


def test_the_setup_custom_resource_runs_the_same_code_as_the_master_user(
    aws_env: None,
    secure_node: SecureNode,
    secured: Secured,
    users: dict[str, User],
    superuser: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """functions/setup/app.py: the master user (its secret in Secrets Manager) writes roles
    and mappings, then the setup role (here its stand-in user) applies the rest."""
    import boto3

    from tests.conftest import ROOT

    secret = boto3.client("secretsmanager").create_secret(
        Name="logferry-master",
        SecretString=json.dumps(
            {"username": secure_node.admin_user, "password": secure_node.admin_password}
        ),
    )
    for name, value in secure_node.env(users[provisioning.roles.SETUP_ROLE]).items():
        monkeypatch.setenv(name, value)
    app = load_script("logferry_setup_function_secure", ROOT / "functions" / "setup" / "app.py")
    properties = {
        "MasterUserSecretArn": secret["ARN"],
        "WriterRoleArn": INGEST_ROLE_ARN,
        "SetupRoleArn": SETUP_ROLE_ARN,
        "Settings": {
            "LOGFERRY_INDEX_PREFIX": secured.prefix,
            "LOGFERRY_READER_BACKEND_ROLES": ANALYSTS,
        },
    }
    before = security_documents(superuser)
    steps = app.run_setup(properties, app.settings_of(properties), lambda: 120.0)
    assert security_documents(superuser) == before  # what `logferry setup` wrote, exactly
    assert f"role {provisioning.roles.WRITER_ROLE} up to date" in steps
    assert f"role {provisioning.roles.WRITER_ROLE} already mapped to {INGEST_ROLE_ARN}" in steps
    assert f"index template {secured.prefix}-logferry for {secured.prefix}-*" in steps
    assert secure_node.admin_password not in json.dumps(steps)


def test_a_caller_that_may_not_manage_security_is_told_so(
    secure_node: SecureNode, secured: Secured, users: dict[str, User]
) -> None:
    """The setup role runs `logferry setup`: the roles are the master user's job; the rest
    is applied."""
    setup_user = client_for(secure_node, users[provisioning.roles.SETUP_ROLE])
    lines = provisioning.apply(setup_user, Settings(index_prefix=secured.prefix))
    assert lines[0].startswith("roles not written: the caller may not manage security")
    assert secure_node.url in lines[0]
    assert f"index template {secured.prefix}-logferry for {secured.prefix}-*" in lines
