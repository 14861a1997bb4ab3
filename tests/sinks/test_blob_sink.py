"""BlobSink against Azurite: layout, latest/ semantics, no partial blobs on failure, retries."""

from __future__ import annotations

import json

import pytest
from azure.storage.blob import ContainerClient

from audit_function.errors import SinkError
from audit_function.sinks.blob import BlobSink, dated_prefix

from tests.function.conftest import connection_string, free_port
from tests.function.helpers import FailingTransport, fail_put_of, fast_retry, previous_of, sample_files, sample_report

JSON, XLSX = "kv-audit-report.json", "kv-audit-report.xlsx"


def blobs(container: ContainerClient) -> dict[str, bytes]:
    return {b.name: container.download_blob(b.name).readall() for b in container.list_blobs()}


def make_sink(azurite: str, container_name: str, transport=None, retry=None) -> BlobSink:
    extra = {"transport": transport} if transport else {}
    return BlobSink.from_connection_string(azurite, container_name, retry=retry or fast_retry(), **extra)


def test_publish_writes_dated_copy_and_latest(azurite, container, container_name):
    report = sample_report("run-a", "2025-03-10T06:00:01Z")
    files = sample_files(report)

    published = make_sink(azurite, container_name).publish(files, report)

    stored = blobs(container)
    assert set(stored) == {f"2025/03/10/run-a/{JSON}", f"2025/03/10/run-a/{XLSX}", f"latest/{JSON}", f"latest/{XLSX}"}
    for name, data in files.items():
        assert stored[f"2025/03/10/run-a/{name}"] == data
        assert stored[f"latest/{name}"] == data
    # dated copy first, JSON last within each stage
    assert [p.split(f"/{container_name}/", 1)[1] for p in published] == [
        f"2025/03/10/run-a/{XLSX}", f"2025/03/10/run-a/{JSON}", f"latest/{XLSX}", f"latest/{JSON}"]
    props = container.get_blob_client(f"2025/03/10/run-a/{JSON}").get_blob_properties()
    assert props.content_settings.content_type == "application/json"
    assert props.metadata["kvauditrunid"] == "run-a"
    xlsx_props = container.get_blob_client(f"latest/{XLSX}").get_blob_properties()
    assert xlsx_props.content_settings.content_type.startswith("application/vnd.openxmlformats")


def test_dated_folder_is_the_utc_day_the_run_started():
    assert dated_prefix(sample_report("r1", "2025-03-09T23:30:00-02:00")) == "2025/03/10/r1"
    assert dated_prefix(sample_report("r1", "2025-12-31T23:59:59+00:00")) == "2025/12/31/r1"
    assert dated_prefix(sample_report("r1", "2025-01-02T00:00:00")) == "2025/01/02/r1"


@pytest.mark.parametrize("run", [
    {"id": "../escape", "startedAt": "2025-03-10T06:00:00Z"},
    {"id": "a/b", "startedAt": "2025-03-10T06:00:00Z"},
    {"id": "", "startedAt": "2025-03-10T06:00:00Z"},
    {"id": "ok", "startedAt": "last monday"},
    {"startedAt": "2025-03-10T06:00:00Z"},
])
def test_unusable_run_metadata_is_refused_before_any_upload(azurite, container, container_name, run):
    report = {"run": run}
    with pytest.raises(SinkError):
        make_sink(azurite, container_name).publish({JSON: b"{}"}, report)
    assert blobs(container) == {}


def test_second_run_replaces_latest_and_keeps_first_dated_copy(azurite, container, container_name):
    sink = make_sink(azurite, container_name)
    first, second = sample_report("run-1", "2025-03-03T06:00:00Z"), sample_report("run-2", "2025-03-10T06:00:00Z", high=4)
    sink.publish(sample_files(first), first)
    assert previous_of(sink).run["id"] == "run-1"

    sink.publish(sample_files(second), second)

    stored = blobs(container)
    assert stored[f"2025/03/03/run-1/{JSON}"] == sample_files(first)[JSON]
    assert stored[f"2025/03/10/run-2/{JSON}"] == sample_files(second)[JSON]
    assert stored[f"latest/{XLSX}"] == sample_files(second)[XLSX]
    previous, doc = previous_of(sink), json.loads(sample_files(second)[JSON])
    assert previous.run == doc["run"] and set(previous.first_seen) == {f["fingerprint"] for f in doc["findings"]}


def test_existing_dated_blob_is_never_overwritten(azurite, container, container_name):
    sink = make_sink(azurite, container_name)
    report = sample_report("run-x")
    sink.publish(sample_files(report), report)
    before = blobs(container)

    changed = sample_report("run-x", high=9)  # same run id, different content
    with pytest.raises(SinkError, match="already exists|BlobAlreadyExists|ResourceExistsError"):
        sink.publish(sample_files(changed), changed)

    assert blobs(container) == before


def test_failed_dated_upload_leaves_no_blob_and_latest_untouched(azurite, container, container_name):
    sink = make_sink(azurite, container_name)
    previous = sample_report("run-old", "2025-03-03T06:00:00Z")
    sink.publish(sample_files(previous), previous)
    before = blobs(container)

    # XLSX goes first and succeeds; the JSON upload then fails on every attempt.
    transport = FailingTransport(fail_put_of(f"run-new/{JSON}"))
    failing = make_sink(azurite, container_name, transport=transport, retry=fast_retry(2))
    new = sample_report("run-new", "2025-03-10T06:00:00Z")
    with pytest.raises(SinkError) as caught:
        failing.publish(sample_files(new), new)

    assert "latest/ left untouched" in str(caught.value)
    assert len(transport.failed) == 3  # first attempt + 2 retries, all for the same blob
    assert blobs(container) == before  # the XLSX this run wrote was removed; latest/ is the old run
    assert previous_of(sink).run["id"] == "run-old"


def test_failed_latest_update_keeps_complete_dated_copy(azurite, container, container_name):
    sink = make_sink(azurite, container_name)
    previous = sample_report("run-old", "2025-03-03T06:00:00Z")
    sink.publish(sample_files(previous), previous)

    transport = FailingTransport(fail_put_of(f"latest/{JSON}"))
    new = sample_report("run-new", "2025-03-10T06:00:00Z")
    with pytest.raises(SinkError, match="is complete"):
        make_sink(azurite, container_name, transport=transport).publish(sample_files(new), new)

    stored = blobs(container)
    assert stored[f"2025/03/10/run-new/{JSON}"] == sample_files(new)[JSON]
    assert stored[f"2025/03/10/run-new/{XLSX}"] == sample_files(new)[XLSX]
    assert stored[f"latest/{JSON}"] == sample_files(previous)[JSON]  # load_previous still sees a whole report


def test_transient_failures_are_retried(azurite, container, container_name):
    transport = FailingTransport(fail_put_of(JSON, times=2))  # each JSON upload fails twice, then works
    report = sample_report("run-r")
    make_sink(azurite, container_name, transport=transport, retry=fast_retry(3)).publish(sample_files(report), report)

    assert len(transport.failed) == 4  # 2 for the dated JSON, 2 for latest/
    assert blobs(container)[f"latest/{JSON}"] == sample_files(report)[JSON]


def test_block_upload_failing_at_commit_leaves_no_blob(azurite, container, container_name):
    """Above max_single_put_size the SDK stages blocks; nothing is readable until Put Block List."""
    transport = FailingTransport(lambda req, n: req.method == "PUT" and "comp=blocklist" in req.url)
    sink = make_sink(azurite, container_name, transport=transport, retry=fast_retry(0))
    sink.container._config.max_single_put_size = 1024
    sink.container._config.max_block_size = 512
    report = sample_report("run-big")
    files = {JSON: json.dumps(report).encode(), XLSX: b"x" * 5000}

    with pytest.raises(SinkError):
        sink.publish(files, report)

    assert any("comp=block&" in url or "comp=block" in url.split("?")[1] for _, url in transport.attempts)
    assert blobs(container) == {}


def test_unreachable_storage_fails_with_sink_error(container_name):
    port = free_port()  # nothing listens here
    sink = BlobSink.from_connection_string(connection_string(port), container_name, retry=fast_retry(0))
    report = sample_report()
    with pytest.raises(SinkError, match="cannot create the report container|upload failed"):
        sink.publish(sample_files(report), report)


def test_load_previous_when_nothing_published(azurite, container_name):
    assert previous_of(make_sink(azurite, container_name)) is None  # container does not exist yet


def test_load_previous_rejects_a_corrupt_report(azurite, container, container_name):
    container.upload_blob(f"latest/{JSON}", b"{not json")
    with pytest.raises(SinkError, match="not valid JSON"):
        previous_of(make_sink(azurite, container_name))


def test_missing_container_is_an_error_when_not_allowed_to_create(azurite, container_name):
    client = ContainerClient.from_connection_string(azurite, container_name, retry_policy=fast_retry(0))
    report = sample_report()
    with pytest.raises(SinkError, match="upload failed"):
        BlobSink(client, create_container=False).publish(sample_files(report), report)


def test_default_retry_policy_is_explicit_and_bounded(azurite, container_name):
    from azure.storage.blob import ExponentialRetry

    sink = BlobSink.from_connection_string(azurite, container_name)
    policy = sink.container._config.retry_policy
    assert isinstance(policy, ExponentialRetry)
    assert policy.total_retries == 5
    waits = [policy.get_backoff_time({"count": n}) for n in range(1, 6)]
    for wait, expected in zip(waits, (4, 6, 10, 18, 34)):
        assert expected - 1 <= wait <= expected + 1
    assert sum(waits) < 80
    assert sink.container._config.max_single_put_size == 64 * 1024 * 1024


def test_account_url_sink_uses_a_bearer_token_and_no_key():
    """In Azure the sink authenticates with the managed identity's token (here a fixed fake one)."""
    import time

    from azure.core.credentials import AccessToken
    from azure.core.pipeline.transport import HttpTransport

    scopes_asked = []

    class StaticCredential:
        def get_token(self, *scopes, **kwargs):
            scopes_asked.append(scopes)
            return AccessToken("fake-token", int(time.time()) + 3600)

    class Capture(HttpTransport):  # records the request, sends nothing anywhere
        requests = []

        def send(self, request, **kwargs):
            self.requests.append(request)
            from azure.core.exceptions import ServiceRequestError
            raise ServiceRequestError("captured, not sent")

        def open(self): pass
        def close(self): pass
        def __enter__(self): return self
        def __exit__(self, *args): pass

    sink = BlobSink.from_account_url("https://stkvaudit.blob.core.windows.net", "kv-audit-reports",
                                     credential=StaticCredential(), retry=fast_retry(0), transport=Capture())
    report = sample_report("run-mi", "2025-03-10T06:00:00Z")
    with pytest.raises(SinkError, match="upload failed"):
        sink.publish(sample_files(report), report)

    (request,) = Capture.requests  # no container creation attempted with identity access
    assert request.method == "PUT"
    assert request.url.startswith(f"https://stkvaudit.blob.core.windows.net/kv-audit-reports/2025/03/10/run-mi/{XLSX}")
    assert request.headers["Authorization"] == "Bearer fake-token"
    assert request.headers["If-None-Match"] == "*"  # overwrite=False: the service refuses to replace a blob
    assert scopes_asked and all(s == ("https://storage.azure.com/.default",) for s in scopes_asked)


# -- streamed reports: staged in blocks, never joined ---------------------------------------------

def _streamed(data: bytes, chunk: int = 1000):
    from audit_function.vocabulary import StreamedFile

    return StreamedFile(lambda: (data[i:i + chunk] for i in range(0, len(data), chunk)))


def _no_join(monkeypatch):
    """A streamed file must never be read whole (read_all / as_bytes) by the Blob sink."""
    from audit_function.vocabulary import StreamedFile

    def refuse(self):
        raise AssertionError("the Blob sink joined a streamed file into one bytes object")

    monkeypatch.setattr(StreamedFile, "read_all", refuse)


def test_streamed_report_is_staged_in_blocks_and_published_whole(azurite, container, container_name, monkeypatch):
    _no_join(monkeypatch)
    transport = FailingTransport(lambda req, n: False)  # records every request
    sink = make_sink(azurite, container_name, transport=transport)
    sink.block_size = 4096
    report = sample_report("run-stream")
    body = json.dumps({**report, "padding": "p" * 50_000}).encode()
    sink.publish({JSON: _streamed(body), XLSX: _streamed(b"x" * 100)}, report)

    stored = blobs(container)
    assert stored[f"2025/03/10/run-stream/{JSON}"] == body and stored[f"latest/{JSON}"] == body
    assert stored[f"latest/{XLSX}"] == b"x" * 100  # smaller than a block: one Put Blob
    staged = [u for m, u in transport.attempts if m == "PUT" and "comp=block&" in u + "&" and "blocklist" not in u]
    commits = [u for m, u in transport.attempts if m == "PUT" and "comp=blocklist" in u]
    assert len(staged) == 2 * -(-len(body) // 4096) and len(commits) == 2  # dated + latest
    blocks = container.get_blob_client(f"latest/{JSON}").get_block_list("committed")[0]
    assert len(blocks) == -(-len(body) // 4096) and all(b.size == 4096 for b in blocks[:-1])
    props = container.get_blob_client(f"latest/{JSON}").get_blob_properties()
    assert props.content_settings.content_type == "application/json" and props.metadata["kvauditrunid"] == "run-stream"


def test_streamed_upload_failing_mid_stream_leaves_no_blob(azurite, container, container_name, monkeypatch):
    _no_join(monkeypatch)
    transport = FailingTransport(lambda req, n: req.method == "PUT" and "comp=block" in req.url
                                 and "blocklist" not in req.url and "blockid=" in req.url.lower()
                                 and sum(1 for m, u in transport.attempts if "comp=block&" in u + "&") > 5)
    sink = make_sink(azurite, container_name, transport=transport, retry=fast_retry(0))
    sink.block_size = 1024
    report = sample_report("run-cut")
    with pytest.raises(SinkError, match="left untouched"):
        sink.publish({JSON: _streamed(b"j" * 20_000), XLSX: _streamed(b"x" * 100)}, report)
    assert sum(1 for m, u in transport.attempts if "comp=block&" in u + "&") == 6  # failed at the JSON's 6th block
    assert blobs(container) == {}  # the XLSX this run wrote removed, the JSON never committed


def test_streamed_upload_never_replaces_an_existing_dated_blob(azurite, container, container_name):
    sink = make_sink(azurite, container_name)
    sink.block_size = 1024
    report = sample_report("run-twice")
    first = {JSON: _streamed(b"1" * 5000), XLSX: _streamed(b"a" * 5000)}
    sink.publish(first, report)
    before = blobs(container)
    with pytest.raises(SinkError, match="already exists|BlobAlreadyExists"):
        sink.publish({JSON: _streamed(b"2" * 5000), XLSX: _streamed(b"b" * 5000)}, report)
    assert blobs(container) == before


def test_block_regrouping_keeps_every_byte():
    from audit_function.sinks.blob_blocks import _blocks

    chunks = [b"a" * 7, b"", b"b" * 30, b"c" * 3]
    out = list(_blocks(chunks, 8))
    assert b"".join(out) == b"".join(chunks) and [len(b) for b in out] == [8, 8, 8, 8, 8]
    assert list(_blocks([], 8)) == []


def test_previous_report_is_read_once_even_when_latest_is_replaced_between_the_passes(azurite, container,
                                                                                       container_name):
    """Week over week reads the previous report twice (fingerprints, then details of what is gone):
    both passes see the same report although another run replaced latest/ in between."""
    sink = make_sink(azurite, container_name)
    first, second = sample_report("run-1", "2025-03-03T06:00:00Z"), sample_report("run-2", "2025-03-10T06:00:00Z")
    first["findings"] = [{"fingerprint": f"{n:032x}", "ruleId": "public-network-open", "severity": "high",
                          "title": "t", "vaultId": f"/subscriptions/s/v{n}", "evidence": {"n": n}} for n in range(3)]
    second["findings"] = [{"fingerprint": f"{n:032x}", "ruleId": "public-network-open", "severity": "high",
                           "title": "t", "vaultId": f"/subscriptions/s/v{n}", "evidence": {"n": n}} for n in range(7, 9)]
    def own_layout(report):   # kv-audit's streamed layout is the one read in two passes
        from audit_function.vocabulary import AuditResult
        from reports import writer_for

        return {JSON: writer_for("json").render(AuditResult(report=report, access=()))}

    sink.publish(own_layout(first), first)
    previous = previous_of(sink)
    sink.publish(own_layout(second), second)          # a concurrent run replaces latest/
    gone = {f["fingerprint"] for f in first["findings"]}
    details = previous.details(gone)
    assert set(details) == gone                          # read from the report the first pass saw
    assert sorted(d["evidence"]["n"] for d in details.values()) == [0, 1, 2]


def test_the_state_file_is_published_dated_and_latest_and_read_first(azurite, container, container_name):
    from datetime import datetime, timezone

    from audit_function.pipeline.run import AuditOptions, run_audit
    from audit_function.history.state import STATE_FILE, load_previous

    sink = make_sink(azurite, container_name)
    weeks = iter([datetime(2026, 11, 2, 6, tzinfo=timezone.utc)] * 2 + [datetime(2026, 11, 9, 6, tzinfo=timezone.utc)] * 2)
    first = run_audit(AuditOptions(source="demo", formats=("json",), run_id="week-1"), sink, clock=lambda: next(weeks))
    stored = blobs(container)
    prefix = dated_prefix(first.result.report)
    assert stored[f"{prefix}/{STATE_FILE}"] == stored[f"latest/{STATE_FILE}"]
    container.delete_blob(f"latest/{JSON}")       # the state alone is enough for week over week
    index, note = load_previous(sink)
    assert note is None and index.source == "state" and index.run["id"] == "week-1"
    second = run_audit(AuditOptions(source="demo", formats=("json",), run_id="week-2"), sink,
                       clock=lambda: next(weeks)).result.report
    assert {f["status"] for f in second["findings"]} == {"persisting"} and len(second["summary"]["trend"]) == 2
    container.upload_blob(f"latest/{STATE_FILE}", b"\x1f\x8bcut", overwrite=True)
    index, note = load_previous(sink)              # a cut state: the report beside it is read, and it says so
    assert index.run["id"] == "week-2" and note["used"] is True and "state file" in note["reason"]
    container.delete_blob(f"latest/{JSON}")
    with pytest.raises(SinkError, match="state file"):   # and with nothing to fall back on: never silently new
        load_previous(sink)
