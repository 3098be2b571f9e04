"""A mailbox's folders: list with counts, create, rename (with every message in it) and
delete (only when empty).

The routes parse and present; :class:`~mairust.services.mailboxes.MailboxService` decides
(system folders, emptiness) through the caller's scope: another tenant's mailbox, or for a
user another mailbox, answers 404 (invariant 5). A folder name may contain ``/`` (a path
under the mailbox), so it is the rest of the URL path.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from mairust.api.deps import AppDep, Reader, Writer
from mairust.api.problems import problem_responses
from mairust.api.route_threads import PooledRoute
from mairust.api.schemas_mailboxes import (
    FolderInfo,
    FolderList,
    FolderRename,
    FolderRenamed,
    NewFolder,
)
from mairust.model.folders import SYSTEM_FOLDERS
from mairust.model.principal import Principal
from mairust.services.application import Application

router = APIRouter(
    route_class=PooledRoute,
    prefix="/api/v1/mailboxes/{mailbox}/folders",
    tags=["messages"],
    responses=problem_responses(401, 403, 404, 503),
)

MailboxAddress = Annotated[
    str,
    Path(
        min_length=3,
        max_length=320,
        description="The mailbox's address.",
        examples=["jane@example.com"],
    ),
]
FolderPath = Annotated[
    str, Path(min_length=1, max_length=255, description="The folder's name (may contain `/`).")
]


def _mailbox_id(application: Application, principal: Principal, address: str) -> str:
    return application.directory.find_user(principal, address).id


@router.get("", response_model=FolderList, summary="List folders with counts")
def list_folders(mailbox: MailboxAddress, principal: Reader, application: AppDep) -> FolderList:
    """Every folder of the mailbox (INBOX, Trash, Junk and Quarantine always, then by name)
    with how many messages it holds and how many of them are unread."""
    mailbox_id = _mailbox_id(application, principal, mailbox)
    folders = application.mailboxes.folders(principal, mailbox_id)
    return FolderList(items=[FolderInfo.from_count(f, f.name in SYSTEM_FOLDERS) for f in folders])


@router.post(
    "",
    response_model=FolderInfo,
    status_code=201,
    summary="Create an empty folder",
    responses=problem_responses(409, 422),
)
def create_folder(
    mailbox: MailboxAddress, folder: NewFolder, principal: Writer, application: AppDep
) -> FolderInfo:
    """Creates the folder; 409 if it exists (or names a system folder)."""
    mailbox_id = _mailbox_id(application, principal, mailbox)
    created = application.mailboxes.create_folder(principal, mailbox_id, folder.name)
    return FolderInfo.from_count(created, system=False)


@router.patch(
    "/{folder:path}",
    response_model=FolderRenamed,
    summary="Rename a folder",
    responses=problem_responses(409, 422),
)
def rename_folder(
    mailbox: MailboxAddress,
    folder: FolderPath,
    rename: FolderRename,
    principal: Writer,
    application: AppDep,
) -> FolderRenamed:
    """Renames the folder and moves every message in it, in one transaction; 409 if the
    new name exists or either name is a system folder (INBOX, Trash, Junk, Quarantine)."""
    mailbox_id = _mailbox_id(application, principal, mailbox)
    moved = application.mailboxes.rename_folder(principal, mailbox_id, folder, rename.name)
    return FolderRenamed(name=rename.name, moved=moved)


@router.delete(
    "/{folder:path}",
    status_code=204,
    response_class=Response,
    summary="Delete an empty folder",
    responses=problem_responses(409),
)
def delete_folder(
    mailbox: MailboxAddress, folder: FolderPath, principal: Writer, application: AppDep
) -> Response:
    """Deletes the folder when it holds no message (409 otherwise: move or delete them
    first, so nothing is lost by accident); system folders are never deleted."""
    mailbox_id = _mailbox_id(application, principal, mailbox)
    application.mailboxes.delete_folder(principal, mailbox_id, folder)
    return Response(status_code=204)
