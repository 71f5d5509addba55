"""Row locks lock what they mean, on PostgreSQL: a decision never holds its vertical, an upload holds no
row while the file is written, and concurrent new policy versions each get their own number."""

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import DatabaseError, connection, transaction

from accounts.models import OfficialAccount, Vertical
from tests.uploads import PDF
from whitelist import services
from whitelist.models import ApplicationAttachment, CriteriaPolicy, WhitelistApplication


def _lockable_elsewhere(model: type[Any], pk: int) -> bool:
    """Whether a second connection can lock the row at once (SELECT ... FOR UPDATE NOWAIT)."""
    answer: list[bool] = []

    def probe() -> None:
        try:
            with transaction.atomic():
                list(model.objects.select_for_update(nowait=True).filter(pk=pk).values("pk"))
            answer.append(True)
        except DatabaseError:
            answer.append(False)
        finally:
            connection.close()

    thread = threading.Thread(target=probe)
    thread.start()
    thread.join(timeout=10)
    assert answer, "the probe did not finish"
    return answer[0]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "decide",
    [
        lambda reviewer, application: services.application_approve(actor=reviewer, application=application),
        lambda reviewer, application: services.application_request_changes(
            actor=reviewer, application=application, message="Add the team's contracts."
        ),
        lambda reviewer, application: services.application_evaluate(actor=reviewer, application=application),
    ],
    ids=["approve", "request_changes", "re_evaluate"],
)
def test_decision__holding_its_locks__leaves_the_vertical_free_on_postgres(
    postgres, reviewer, submitted, decide: Callable[[Any, WhitelistApplication], object]
):
    # Given a decision whose transaction is still open, so its row locks are held
    vertical_id = submitted.account.vertical_id
    with transaction.atomic():
        decide(reviewer, submitted)
        # Then another connection can lock the account's vertical, but not the application
        vertical_free = _lockable_elsewhere(Vertical, vertical_id)
        application_free = _lockable_elsewhere(WhitelistApplication, submitted.pk)
    assert vertical_free, "the decision locked the vertical row"
    assert not application_free, "the probe cannot see a lock that is held"


@pytest.mark.django_db(transaction=True)
def test_attachment_upload__while_the_file_is_written__holds_no_row_lock_on_postgres(
    postgres, merchant, draft, monkeypatch
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    # Given a storage that, while it writes, asks another connection to lock the application and account
    storage = ApplicationAttachment._meta.get_field("file").storage
    original_save = storage._save
    seen: dict[str, bool] = {}

    def save_and_probe(name: str, content: Any) -> str:
        seen["application"] = _lockable_elsewhere(WhitelistApplication, draft.pk)
        seen["account"] = _lockable_elsewhere(OfficialAccount, draft.account_id)
        return original_save(name, content)

    monkeypatch.setattr(storage, "_save", save_and_probe)
    # When the merchant uploads a document
    uploaded = SimpleUploadedFile("licence.pdf", PDF, content_type="application/pdf")
    attachment = services.application_attachment_add(actor=merchant, application=draft, uploaded=uploaded)
    # Then the file was written while no row was locked, and the document is attached
    assert seen == {"application": True, "account": True}
    assert list(draft.attachments.values_list("pk", flat=True)) == [attachment.pk]


@pytest.mark.django_db(transaction=True)
def test_attachment_upload__application_sent_meanwhile__is_refused_and_the_file_removed(
    postgres, merchant, draft, monkeypatch
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from portal.errors import Conflict

    # Given the application is submitted while the file is being written
    storage = ApplicationAttachment._meta.get_field("file").storage
    original_save = storage._save
    written: list[str] = []

    def save_then_submit(name: str, content: Any) -> str:
        stored = original_save(name, content)
        written.append(stored)
        WhitelistApplication.objects.filter(pk=draft.pk).update(state="submitted")
        return stored

    monkeypatch.setattr(storage, "_save", save_then_submit)
    uploaded = SimpleUploadedFile("licence.pdf", PDF, content_type="application/pdf")
    # When the upload finishes, then it is refused under the lock, and the stored file is gone
    with pytest.raises(Conflict):
        services.application_attachment_add(actor=merchant, application=draft, uploaded=uploaded)
    assert not draft.attachments.exists()
    assert written and not storage.exists(written[0])


@pytest.mark.django_db(transaction=True)
def test_policy_new_version__eight_requests_at_once_on_postgres__all_succeed_with_distinct_numbers(
    postgres, staff, policy
):
    # Given eight staff requests for a new version, released together
    requests = 8
    barrier = threading.Barrier(requests)
    versions: list[int] = []
    errors: list[BaseException] = []

    def create() -> None:
        try:
            barrier.wait(timeout=10)
            versions.append(services.policy_create_version(actor=staff, data={}, open_verticals=None).version)
        except BaseException as error:  # every failure is the finding
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=create) for _ in range(requests)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    # Then every request got its own version, numbered after version 1 without a gap
    assert errors == []
    assert sorted(versions) == list(range(2, 2 + requests))
    assert CriteriaPolicy.objects.count() == requests + 1
