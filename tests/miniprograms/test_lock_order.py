"""The lock order of miniprograms/services/, held against real PostgreSQL row locks and threads."""

import threading
import time
from collections.abc import Callable

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction

from miniprograms import services
from miniprograms.models import MiniProgram, MiniProgramState, ProfileLink, ProfileLinkState
from tests.uploads import PNG


def waiting_on_locks() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return int(cursor.fetchone()[0])


def icon_files(miniprogram: MiniProgram) -> list[str]:
    storage = MiniProgram._meta.get_field("icon").storage
    try:
        return list(storage.listdir(f"miniprograms/icons/{miniprogram.pk}")[1])
    except FileNotFoundError:
        return []


def wait_until(condition: Callable[[], bool], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


class RowLock:
    """A row locked by another connection until release()."""

    def __init__(self, lock: Callable[[], object]) -> None:
        self._locked, self._release = threading.Event(), threading.Event()
        self._thread = threading.Thread(target=self._hold, args=(lock,))
        self._thread.start()
        assert self._locked.wait(timeout=10)

    def _hold(self, lock: Callable[[], object]) -> None:
        try:
            with transaction.atomic():
                lock()
                self._locked.set()
                self._release.wait(timeout=30)
        finally:
            connection.close()

    def release(self) -> None:
        self._release.set()
        self._thread.join(timeout=30)


def in_thread(call: Callable[[], object], outcomes: list[object]) -> threading.Thread:
    def run() -> None:
        try:
            call()
            outcomes.append("done")
        except Exception as exc:
            outcomes.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


@pytest.mark.django_db(transaction=True)
def test_approve_and_delist_meeting_on_one_link__no_deadlock(postgres, merchant, staff, pending_link):
    # Given the pending link held by another transaction, so both services queue on their way
    held = RowLock(lambda: ProfileLink.objects.select_for_update().get(pk=pending_link.pk))
    outcomes: list[object] = []
    try:
        # When staff approve the link while the merchant delists its mini program
        approve = in_thread(lambda: services.profile_link_approve(actor=staff, link=pending_link), outcomes)
        wait_until(lambda: waiting_on_locks() >= 1)
        delist = in_thread(
            lambda: services.miniprogram_delist(actor=merchant, miniprogram=pending_link.miniprogram),
            outcomes,
        )
        wait_until(lambda: waiting_on_locks() >= 2)
    finally:
        held.release()
    approve.join(timeout=30)
    delist.join(timeout=30)
    # Then both finish, one after the other (before, approve held the account and the link while
    # waiting for the mini program that delisting held while waiting for the link: a deadlock)
    assert outcomes == ["done", "done"], outcomes
    assert MiniProgram.objects.get(pk=pending_link.miniprogram_id).state == MiniProgramState.DELISTED
    assert ProfileLink.objects.get(pk=pending_link.pk).state == ProfileLinkState.UNLINKED


@pytest.mark.django_db(transaction=True)
def test_icon_upload__file_is_written_before_the_row_is_locked(postgres, merchant, miniprogram):
    # Given the mini program's row locked by another transaction
    held = RowLock(lambda: MiniProgram.objects.select_for_update().get(pk=miniprogram.pk))
    outcomes: list[object] = []
    try:
        # When the merchant uploads an icon, which has to wait for the row
        upload = in_thread(
            lambda: services.miniprogram_set_icon(
                actor=merchant, miniprogram=miniprogram, uploaded=SimpleUploadedFile("icon.png", PNG)
            ),
            outcomes,
        )
        wait_until(lambda: waiting_on_locks() >= 1)
        # Then the file is already written: no file I/O happens while the row is locked
        written = icon_files(miniprogram)
        assert len(written) == 1
    finally:
        held.release()
    upload.join(timeout=30)
    assert outcomes == ["done"], outcomes
    assert MiniProgram.objects.get(pk=miniprogram.pk).icon.name.endswith(written[0])


@pytest.mark.django_db(transaction=True)
def test_icon_upload__refused_under_the_lock__file_is_removed(postgres, merchant, miniprogram):
    # Given the mini program delisted while the upload waits for its row
    held = RowLock(
        lambda: (
            MiniProgram.objects.select_for_update()
            .filter(pk=miniprogram.pk)
            .update(state=MiniProgramState.DELISTED)
        )
    )
    outcomes: list[object] = []
    try:
        upload = in_thread(
            lambda: services.miniprogram_set_icon(
                actor=merchant, miniprogram=miniprogram, uploaded=SimpleUploadedFile("icon.png", PNG)
            ),
            outcomes,
        )
        wait_until(lambda: waiting_on_locks() >= 1)
    finally:
        held.release()
    upload.join(timeout=30)
    # Then the upload is refused and leaves no file behind
    assert len(outcomes) == 1 and getattr(outcomes[0], "code", "") == "invalid-transition", outcomes
    assert icon_files(miniprogram) == []
    assert not MiniProgram.objects.get(pk=miniprogram.pk).icon
