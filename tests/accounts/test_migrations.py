"""Data migrations of the accounts app, run forward on rows made under the schema before them."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("accounts", "0006_email_claims")]
AFTER = [("accounts", "0007_organization_source_directory_conflicts")]


@pytest.mark.django_db(transaction=True)
def test_organization_source__organizations_without_members__become_the_directorys(postgres):
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    Organization = old.get_model("accounts", "Organization")
    User = old.get_model("accounts", "User")
    Membership = old.get_model("accounts", "Membership")
    # Given an organization a merchant signed up with (it has an owner) and one the import created
    signed_up = Organization.objects.create(name="Signed Up Ltd", kind="enterprise")
    user = User.objects.create(username="owner", time_zone="Asia/Shanghai", language="en")
    Membership.objects.create(user=user, organization=signed_up, role="owner")
    imported = Organization.objects.create(name="Imported Ltd", kind="enterprise")
    # When the migration runs
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(AFTER)
    new = executor.loader.project_state(AFTER).apps.get_model("accounts", "Organization")
    # Then only the one without members is the directory's, and no identity is verified
    assert dict(new.objects.values_list("name", "source")) == {
        "Signed Up Ltd": "signed_up",
        "Imported Ltd": "directory",
    }
    assert not new.objects.filter(identity_verified_at__isnull=False).exists()
    # And the schema is back at the latest migrations for the tests that follow
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    assert imported.pk and signed_up.pk
