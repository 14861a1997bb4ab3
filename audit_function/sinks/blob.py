"""The Blob Storage sink (the Function's): each run under a dated prefix, then ``latest/``."""

from __future__ import annotations

import os
from datetime import datetime, timezone
from typing import Any, Mapping

from audit_function.errors import SinkError
from audit_function.sinks.blob_blocks import BLOCK_SIZE, pinned_reader, upload_chunks
from audit_function.sinks.publish import CONTENT_TYPES, LATEST_PREFIX, PLAIN_NAME, Reopen, check_names
from audit_function.vocabulary import StreamedFile


def default_retry() -> Any:
    """The retry policy BlobSink uses unless told otherwise (explicit, not the SDK default).

    Exponential: 5 retries, waiting about 4, 6, 10, 18 and 34 s (backoff 2 + 2**n, plus or minus
    1 s jitter; about 72 s in all), on connection errors, timeouts, 408, 429 and 5xx. A weekly
    run can afford a minute of patience; more would only delay the failure signal.
    """
    from azure.storage.blob import ExponentialRetry

    return ExponentialRetry(initial_backoff=2, increment_base=2, retry_total=5, random_jitter_range=1)


#: Transport settings passed to every client BlobSink creates.
CLIENT_SETTINGS = {
    "connection_timeout": 20,
    "read_timeout": 120,
    # Below this size an upload is one Put Blob request: the blob appears whole or not at all.
    # Above it the SDK stages blocks and commits them with Put Block List; staged blocks are not
    # part of any readable blob until that commit. Either way no partial blob becomes visible.
    "max_single_put_size": 64 * 1024 * 1024,
}


def dated_prefix(report: Mapping[str, Any]) -> str:
    """``YYYY/MM/DD/<run-id>`` from ``report["run"]["startedAt"]`` (in UTC) and ``report["run"]["id"]``."""
    run = report.get("run") if isinstance(report, Mapping) else None
    if not isinstance(run, Mapping):
        raise SinkError("report has no 'run' section: cannot name the report blobs")
    run_id = run.get("id")
    if not isinstance(run_id, str) or not PLAIN_NAME.match(run_id) or ".." in run_id:
        raise SinkError(f"report run id {run_id!r} cannot be used in a blob name (letters, digits, '.', '_', '-')")
    started = run.get("startedAt")
    try:
        when = datetime.fromisoformat(str(started).replace("Z", "+00:00"))
    except ValueError as err:
        raise SinkError(f"report run.startedAt {started!r} is not an ISO 8601 timestamp") from err
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    day = when.astimezone(timezone.utc)
    return f"{day:%Y/%m/%d}/{run_id}"


class BlobSink:
    """Publishes each run to ``<container>/YYYY/MM/DD/<run-id>/<file>`` and then ``latest/<file>``.

    Order and guarantees:

    1. Dated copy: every file is uploaded with ``overwrite=False`` (the JSON last). An existing
       blob is never replaced. If any upload fails, the blobs this run created are deleted and
       ``latest/`` is not touched.
    2. ``latest/`` copy: only after the dated copy is complete; the JSON last, so
       the next run never reads a report whose sibling files (the state file) are still old. A failure
       here leaves the complete dated copy in place and raises.

    Each blob upload is atomic (a single Put Blob, or staged blocks that become visible only on
    Put Block List), so a reader never sees a truncated blob under a final name. A streamed
    report is staged one block at a time (blob_blocks.py): memory stays at about one block.
    """

    def __init__(self, container: Any, *, create_container: bool = False, block_size: int = BLOCK_SIZE) -> None:
        self.container = container
        self.create_container = create_container
        self.block_size = block_size  # streamed reports: bytes per staged block (blob_blocks.py)

    @classmethod
    def from_connection_string(
        cls, connection_string: str, container_name: str, *, retry: Any = None, create_container: bool = True, **client_kwargs: Any
    ) -> "BlobSink":
        """Local development and tests (``UseDevelopmentStorage=true`` is Azurite on 127.0.0.1:10000)."""
        from azure.storage.blob import ContainerClient

        kwargs = {**CLIENT_SETTINGS, "retry_policy": retry or default_retry(), **client_kwargs}
        client = ContainerClient.from_connection_string(connection_string, container_name, **kwargs)
        return cls(client, create_container=create_container)

    @classmethod
    def from_account_url(
        cls, account_url: str, container_name: str, *, credential: Any, retry: Any = None, create_container: bool = False, **client_kwargs: Any
    ) -> "BlobSink":
        """Azure: the blob endpoint plus a token credential (the Function's managed identity)."""
        from azure.storage.blob import ContainerClient

        kwargs = {**CLIENT_SETTINGS, "retry_policy": retry or default_retry(), **client_kwargs}
        client = ContainerClient(account_url, container_name, credential=credential, **kwargs)
        return cls(client, create_container=create_container)

    # -- reading ------------------------------------------------------------------------------

    def open_previous(self, name: str) -> Reopen | None:
        from azure.core.exceptions import AzureError, ResourceNotFoundError

        blob = f"{LATEST_PREFIX}/{name}"
        try:
            first = self.container.download_blob(blob)
        except ResourceNotFoundError:
            return None  # first run, or the container does not exist yet
        except AzureError as err:
            raise SinkError(f"{self._url(blob)}: cannot read the previous run's file: {_reason(err)}") from err

        def chunks():
            try:
                yield from first.chunks()
            except AzureError as err:
                raise SinkError(f"{self._url(blob)}: cannot read the previous run's file: {_reason(err)}") from err

        return pinned_reader(chunks)

    def where(self, name: str) -> str:
        return self._url(f"{LATEST_PREFIX}/{name}")

    # -- writing ------------------------------------------------------------------------------

    def publish(self, files: Mapping[str, bytes], report: dict) -> list[str]:
        order = check_names(files)
        prefix = dated_prefix(report)
        metadata = _metadata(report)
        self._ensure_container()

        dated: list[str] = []
        for name in order:
            blob = f"{prefix}/{name}"
            try:
                self._upload(blob, files[name], metadata, overwrite=False)
            except Exception as err:
                removed, left = self._delete_quietly(dated)
                detail = f"removed {len(removed)} blob(s) this run had written" if not left else f"could not remove {', '.join(left)}"
                raise SinkError(
                    f"{self._url(blob)}: upload failed ({_reason(err)}); {detail}; {LATEST_PREFIX}/ left untouched"
                ) from err
            dated.append(blob)

        latest: list[str] = []
        for name in order:
            blob = f"{LATEST_PREFIX}/{name}"
            try:
                self._upload(blob, files[name], metadata, overwrite=True)
            except Exception as err:
                raise SinkError(
                    f"{self._url(blob)}: upload failed ({_reason(err)}); the dated report at "
                    f"{self._url(prefix + '/')} is complete, {LATEST_PREFIX}/ may still show the previous run"
                ) from err
            latest.append(blob)
        return [self._url(b) for b in dated + latest]

    def _ensure_container(self) -> None:
        if not self.create_container:
            return
        from azure.core.exceptions import AzureError, ResourceExistsError

        try:
            self.container.create_container()
        except ResourceExistsError:
            pass
        except AzureError as err:
            raise SinkError(f"{self._url('')}: cannot create the report container: {_reason(err)}") from err

    def _upload(self, blob: str, data: bytes | StreamedFile, metadata: dict[str, str], *, overwrite: bool) -> None:
        from azure.storage.blob import ContentSettings

        suffix = os.path.splitext(blob)[1].lower()
        settings = ContentSettings(content_type=CONTENT_TYPES.get(suffix, "application/octet-stream"))
        if isinstance(data, StreamedFile):  # staged block by block: never joined into one bytes object
            upload_chunks(self.container, blob, data, overwrite=overwrite, metadata=metadata,
                          content_settings=settings, block_size=self.block_size)
            return
        self.container.upload_blob(blob, bytes(data), overwrite=overwrite, metadata=metadata, content_settings=settings)

    def _delete_quietly(self, blobs: list[str]) -> tuple[list[str], list[str]]:
        removed, left = [], []
        for blob in blobs:
            try:
                self.container.delete_blob(blob)
                removed.append(blob)
            except Exception:  # noqa: BLE001 - cleanup must not hide the upload error
                left.append(blob)
        return removed, left

    def _url(self, blob: str) -> str:
        base = getattr(self.container, "url", "") or ""
        return f"{base.rstrip('/')}/{blob}" if blob else base


def _metadata(report: Mapping[str, Any]) -> dict[str, str]:
    run = report.get("run") or {}
    return {
        "kvauditrunid": str(run.get("id", "")),
        "kvauditstartedat": str(run.get("startedAt", "")),
        "kvauditcomplete": str(bool(run.get("complete"))).lower(),
    }


def _reason(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    first = text[0] if text else ""
    return f"{type(err).__name__}: {first}" if first else type(err).__name__
