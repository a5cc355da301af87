"""The file layer (warehouse.storage) and the lake on a real S3 server (SeaweedFS, tests/s3.py).

Every file test runs on local disk and on S3 with the same assertions: the layer means the same on
both. The lake tests write Delta tables on S3 from two writers at once, serve them to SQL, and
check that a process reading S3 tables exits cleanly.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import threading

import pyarrow as pa
import pyarrow.fs as pa_fs
import pytest

from nexus.errors import ConfigError
from warehouse import storage
from warehouse.lake import CommitMeta, Lake
from warehouse.tables import FCT_TAG_HOURLY, RAW_FILES

pytestmark = [pytest.mark.s3]

UTC = dt.UTC


@pytest.fixture(params=["local", "s3"])
def place(request, tmp_path):
    """A location of each kind: a local folder, or a fresh prefix on the session's S3 server."""
    if request.param == "local":
        return str(tmp_path / "files")
    return request.getfixturevalue("object_store").uri()


def test_normalize_and_refuse():
    assert storage.normalize("s3a://bucket/a/b/") == "s3://bucket/a/b"
    assert storage.normalize("file:///tmp/x") == "/tmp/x"
    assert storage.is_remote("s3://b/p") and not storage.is_remote("/tmp/x") and not storage.is_remote("file:///x")
    with pytest.raises(ConfigError, match="gs:// is not supported"):
        storage.normalize("gs://bucket/lake")
    with pytest.raises(ConfigError, match="names no bucket"):
        storage.normalize("s3:///lake")


def test_settings_keep_an_s3_root(monkeypatch):
    from nexus.settings import get_settings

    got = get_settings({"NEXUS_LAKE_ROOT": "s3://plant-lake/prod/", "NEXUS_LANDING_DIR": "s3://plant-inbox"})
    assert (got.lake_root, got.landing_dir) == ("s3://plant-lake/prod", "s3://plant-inbox")
    assert get_settings({"NEXUS_LAKE_ROOT": "relative/lake"}).lake_root == str(storage.Path("relative/lake").resolve())
    assert get_settings({"NEXUS_LAKE_ROOT": "file:///srv/lake/"}).lake_root == str(storage.Path("/srv/lake").resolve())


def test_the_state_folder_is_always_local(tmp_path, monkeypatch):
    """This machine's state (edge buffers, GX's working copy) is a local folder: beside a local lake,
    in the project for a lake on S3, or NEXUS_STATE_DIR; never an object store."""
    from nexus.edge import default_buffer_path, main
    from nexus.settings import get_settings, project_root

    assert get_settings({"NEXUS_LAKE_ROOT": "/srv/lake"}).state_dir == "/srv/lake/_state"
    assert get_settings({"NEXUS_LAKE_ROOT": "s3://lake/prod"}).state_dir == str(project_root() / "_state")
    assert get_settings({"NEXUS_LAKE_ROOT": "s3://lake/prod", "NEXUS_STATE_DIR": "/data/state"}).state_dir == "/data/state"
    with pytest.raises(ConfigError, match="NEXUS_STATE_DIR .* a local path"):
        get_settings({"NEXUS_STATE_DIR": "s3://lake/state"})
    # an installed package (the image runs from /opt/nexus, not its user's): the user's state folder
    monkeypatch.setattr("nexus.settings.project_root", lambda: tmp_path / "cwd")
    assert get_settings({"NEXUS_LAKE_ROOT": "s3://lake/prod", "XDG_STATE_HOME": "/home/op/.state"}).state_dir == \
        "/home/op/.state/nexus"
    monkeypatch.undo()
    monkeypatch.setenv("NEXUS_STATE_DIR", str(tmp_path / "state"))
    assert default_buffer_path("edge-a") == tmp_path / "state" / "edge" / "edge-a.sqlite"
    (tmp_path / "a-file").write_text("")
    assert main(["--buffer", str(tmp_path / "a-file" / "edge.sqlite"), "--duration", "0"]) == 2  # said, no traceback


def test_gx_works_in_a_private_folder_of_the_state_for_a_lake_on_s3(tmp_path, monkeypatch):
    from warehouse.validation_docs import _workdir

    monkeypatch.setenv("NEXUS_STATE_DIR", str(tmp_path / "state"))
    (tmp_path / "state" / "gx").mkdir(parents=True, mode=0o755)
    (tmp_path / "state" / "gx").chmod(0o755)
    work = _workdir(Lake("s3://lake/prod"))
    assert work.parent == tmp_path / "state" / "gx" and work != _workdir(Lake("s3://lake/other"))
    assert (tmp_path / "state" / "gx").stat().st_mode & 0o777 == 0o700  # GX imports its plugins/ from here
    assert _workdir(Lake(str(tmp_path / "lake"))) == tmp_path / "lake"  # a local lake keeps GX in the lake


def test_a_lake_on_s3_takes_no_storage_options():
    with pytest.raises(ConfigError, match="AWS_"):
        Lake("s3://bucket/lake", storage_options={"AWS_ACCESS_KEY_ID": "other"})


def test_delta_options_follow_the_aws_variables(monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9999")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    opts = storage.delta_options("s3://b/p")
    assert opts["AWS_ENDPOINT_URL"] == "http://127.0.0.1:9999" and opts["AWS_ALLOW_HTTP"] == "true"
    assert opts["AWS_REGION"] == "eu-west-1" and int(opts["max_retries"]) >= 5
    assert "AWS_S3_ALLOW_UNSAFE_RENAME" not in opts and "AWS_S3_LOCKING_PROVIDER" not in opts
    monkeypatch.setenv("AWS_ENDPOINT_URL", "https://s3.example.com")
    assert "AWS_ALLOW_HTTP" not in storage.delta_options("s3://b/p")
    assert storage.delta_options("/tmp/lake") is None
    monkeypatch.setenv("AWS_ENDPOINT_URL", "ftp://nowhere")
    with pytest.raises(ConfigError, match="AWS_ENDPOINT_URL must be an http"):
        storage.delta_options("s3://b/p")


def test_files_mean_the_same_on_disk_and_on_s3(place):
    f = storage.folder(place)
    assert f.files() == [] and f.walk() == [] and not f.exists("a.txt")  # a missing folder is empty
    f.write_bytes("inbox/b.csv", b"x" * 10)
    f.write_text("inbox/a.csv", "tag,value\n")
    f.write_bytes("inbox/.hidden.tmp", b"partial")
    f.write_bytes("inbox/sub/c.csv", b"c")
    assert f.sub("inbox").files() == [("a.csv", 10), ("b.csv", 10)]  # by name, hidden skipped, not recursive
    assert f.folders() == ["inbox"] and f.sub("inbox").folders() == ["sub"]
    assert f.walk("inbox") == ["a.csv", "b.csv", "sub/c.csv"]
    assert f.read_text("inbox/a.csv") == "tag,value\n" and f.size("inbox/b.csv") == 10
    assert f.tail("inbox/a.csv", 6) == b"value\n"
    import hashlib

    assert f.sha256("inbox/b.csv") == (hashlib.sha256(b"x" * 10).hexdigest(), 10)
    import gzip

    packed = gzip.compress(b"tag,value\n")  # kept byte for byte: never (de)compressed by its name
    f.write_bytes("raw/a.csv.gz", packed)
    assert f.read_bytes("raw/a.csv.gz") == packed and f.sha256("raw/a.csv.gz")[1] == len(packed)
    assert f.tail("raw/a.csv.gz", 4) == packed[-4:]
    f.write_bytes("inbox/b.csv", b"new")  # replaced whole
    assert f.read_bytes("inbox/b.csv") == b"new"
    other = storage.folder(place + "-copy")
    other.copy_from(f.sub("inbox"), "a.csv", "raw/a.csv")
    assert other.read_bytes("raw/a.csv") == b"tag,value\n"
    big = bytes(range(256)) * (3 * storage.CHUNK // 256 + 7)  # several chunks, streamed both ways
    f.write_bytes("big.bin", big)
    other.copy_from(f, "big.bin", "raw/big.bin")
    assert other.read_bytes("raw/big.bin") == big and other.sha256("raw/big.bin")[1] == len(big)
    with pytest.raises(FileNotFoundError):
        other.copy_from(f, "gone.csv", "raw/gone.csv")  # another run took it: nothing written
    assert not other.exists("raw/gone.csv") and other.sub("raw").files() == [("a.csv", 10), ("big.bin", len(big))]
    f.remove("inbox/a.csv")
    f.remove("inbox/a.csv")  # a missing file is not an error
    assert not f.exists("inbox/a.csv")
    with pytest.raises(FileNotFoundError, match="a.csv"):
        f.read_bytes("inbox/a.csv")
    with pytest.raises(ValueError):
        f.read_bytes("../escape")
    assert f.uri("inbox/b.csv") == storage.join(storage.normalize(place), "inbox/b.csv")
    assert (f.local_path("x") is None) == storage.is_remote(place)


def test_a_file_removed_while_it_is_read_is_not_found(place):
    """A concurrent run may take an inbox file while this one reads it. On S3 each piece is a ranged
    GET, so the removal shows mid-read: as FileNotFoundError, which landing skips (a local file
    stays readable through its open handle). A copy returns the hash of what it wrote."""
    f = storage.folder(place)
    data = os.urandom(3 * storage.CHUNK + 5)
    f.write_bytes("inbox/big.bin", data)
    sha, size = f.sha256("inbox/big.bin")
    assert f.copy_from(f, "inbox/big.bin", "raw/big.bin") == (sha, size) and size == len(data)
    pieces = f.chunks("inbox/big.bin")
    first = next(pieces)
    f.remove("inbox/big.bin")
    if f.remote:
        with pytest.raises(FileNotFoundError, match="removed while it was read"):
            list(pieces)
    else:
        assert first + b"".join(pieces) == data
    with pytest.raises(FileNotFoundError, match="no file"):
        next(f.chunks("inbox/big.bin"))


def test_a_file_replaced_while_it_is_copied_is_never_kept_under_the_old_hash(place):
    """A re-delivery under the same name between the hash and the copy, or during a read: the copy
    checks the hash before the file appears (the target keeps what it held), and on S3 a read cut
    short by a shorter new version is ChangedWhileRead, not an unexplained error."""
    f = storage.folder(place)
    old, new = os.urandom(3 * storage.CHUNK), b"a shorter re-delivery"
    f.write_bytes("inbox/day.csv", old)
    sha, _ = f.sha256("inbox/day.csv")
    f.write_bytes("raw/day.csv", b"landed before")
    f.write_bytes("inbox/day.csv", new)  # the export job, between the hash and the copy
    with pytest.raises(storage.ChangedWhileRead, match="changed while it was copied"):
        f.copy_from(f, "inbox/day.csv", "raw/day.csv", sha256=sha)
    assert f.read_bytes("raw/day.csv") == b"landed before" and f.temporaries(
        before=dt.datetime.now(UTC) + dt.timedelta(hours=1), rel="raw") == []
    assert f.copy_from(f, "inbox/day.csv", "raw/new.csv", sha256=f.sha256("inbox/day.csv")[0])[1] == len(new)

    f.write_bytes("inbox/day.csv", old)
    pieces = f.chunks("inbox/day.csv")
    first = next(pieces)
    f.write_bytes("inbox/day.csv", new)
    if f.remote:
        with pytest.raises(storage.ChangedWhileRead, match="replaced while it was read"):
            list(pieces)
    else:  # the open handle reads the old version to its end
        assert first + b"".join(pieces) == old


def test_local_files_get_the_mode_open_would_give(tmp_path):
    """mkstemp makes 0600 files; a report or raw file must stay readable by whoever else serves or
    reads the lake (a web server, another user's console), as a plain open() would have left it."""
    f = storage.folder(str(tmp_path))
    old = os.umask(0o022)
    try:
        storage._file_mode.cache_clear()
        f.write_text("reports/day.html", "<html>")
        f.upload(tmp_path / "reports/day.html", "reports/copy.html")
        assert {p.name: p.stat().st_mode & 0o777 for p in (tmp_path / "reports").iterdir()} == {
            "day.html": 0o644, "copy.html": 0o644}
        os.umask(0o077)
        storage._file_mode.cache_clear()
        f.write_text("reports/private.html", "<html>")
        assert (tmp_path / "reports/private.html").stat().st_mode & 0o777 == 0o600
    finally:
        os.umask(old)
        storage._file_mode.cache_clear()


def test_a_failed_write_leaves_nothing(place):
    """An S3 upload stream closed by an exception completes with what was written: the layer writes
    under a temporary key first, so neither a part nor the temporary file is left behind."""
    f = storage.folder(place)
    f.write_bytes("report.html", b"old")

    not_bytes = object()  # the write into the (temporary) file fails after the file was opened
    with pytest.raises(TypeError):
        f.write_bytes("report.html", not_bytes)
    with pytest.raises(TypeError):
        f.write_bytes("fresh.html", not_bytes)
    assert f.read_bytes("report.html") == b"old" and not f.exists("fresh.html")
    everything = f.fs.get_file_info(pa_fs.FileSelector(f.base, recursive=True))
    assert sorted(i.base_name for i in everything if i.type == pa_fs.FileType.File) == ["report.html"]


def _orphan(f: storage.Folder, rel: str) -> str:
    """The temporary a writer killed between writing and renaming (copying) leaves: ``_write``'s name."""
    parent, name = rel.rsplit("/", 1) if "/" in rel else ("", rel)
    tmp = f"{parent}/.{name}.{'ab12' * 3}.tmp".lstrip("/")
    if not f.remote:
        f.local_path(tmp).parent.mkdir(parents=True, exist_ok=True)
    with f.fs.open_output_stream(f._p(tmp), compression=None) as fh:
        fh.write(b"half a report")
    return tmp


def test_temporaries_of_killed_writers_are_found_once_old_and_swept(place):
    from warehouse.maintenance import sweep_temporaries

    f = storage.folder(place)
    f.write_bytes("reports/2026-03-01.html", b"<html>")
    f.write_bytes(".keep", b"")  # hidden, but not a temporary
    f.write_bytes("raw/sensor/.x.tmp", b"")  # a .tmp without the random part: not ours
    orphans = sorted([_orphan(f, "reports/2026-03-02.html"), _orphan(f, "landing/cstr_2026-03-02.csv.gz")])
    now = dt.datetime.now(UTC)

    assert f.temporaries(before=now - dt.timedelta(hours=1)) == []  # young: may be a write under way
    assert f.temporaries(before=now + dt.timedelta(minutes=5)) == orphans
    assert f.sub("reports").temporaries(before=now + dt.timedelta(minutes=5)) == [orphans[1].split("/", 1)[1]]
    assert sweep_temporaries([f], now=now) == []  # not 24 h old yet
    later = now + dt.timedelta(hours=25)
    # the inbox inside the lake's folder is swept once; a dry run removes nothing
    assert sweep_temporaries([f.sub("landing"), f], now=later, dry_run=True) == [f.uri(o) for o in orphans]
    assert f.temporaries(before=later) == orphans
    assert sweep_temporaries([f, f.sub("landing")], now=later) == [f.uri(o) for o in orphans]
    assert f.temporaries(before=later) == [] and sweep_temporaries([f], now=later) == []
    left = f.fs.get_file_info(pa_fs.FileSelector(f.base, recursive=True))
    assert sorted(i.path[len(f.base) + 1:] for i in left if i.type == pa_fs.FileType.File) == [
        ".keep", "raw/sensor/.x.tmp", "reports/2026-03-01.html"]
    with pytest.raises(ValueError, match="negative"):
        sweep_temporaries([f], older_than=dt.timedelta(hours=-1))


def test_the_sweep_looks_only_where_nexus_writes_and_past_unreadable_folders(tmp_path, monkeypatch, caplog):
    from warehouse.maintenance import file_folders, sweep_temporaries

    lake = Lake(str(tmp_path / "lake"))
    folders = file_folders(lake, str(tmp_path / "landing"))
    assert [f.uri() for f in folders] == [str(tmp_path / p) for p in (
        "lake/raw", "lake/reports", "lake/_validation", "lake/artifacts",
        "landing/sensor", "landing/market", "landing/regulatory")]
    lake_files, inbox = storage.folder(str(tmp_path / "lake")), storage.folder(str(tmp_path / "landing"))
    mine = [_orphan(lake_files, "raw/sensor/cstr/a.csv"), _orphan(lake_files, "artifacts/s/m.pkl")]
    theirs = [_orphan(lake_files, "gold/fct_tag_hourly/x.parquet"), _orphan(inbox, "notes.txt")]
    later = dt.datetime.now(UTC) + dt.timedelta(days=2)
    real = storage.Folder.temporaries

    def unreadable(self, rel="", *, before):
        if self.uri().endswith("/reports"):
            raise PermissionError(13, "Permission denied", self.base)
        return real(self, rel, before=before)

    monkeypatch.setattr(storage.Folder, "temporaries", unreadable)
    assert sweep_temporaries(folders, now=later) == [lake_files.uri(m) for m in sorted(mine)]
    assert "could not look for temporary files in" in caplog.text and "/lake/reports" in caplog.text
    assert all(lake_files.exists(t) for t in theirs[:1]) and inbox.exists(theirs[1])


def test_a_resimulated_day_replaces_its_exports_in_an_s3_inbox_as_in_a_local_one(object_store, tmp_path):
    """nexus simulate into an S3 inbox: the simulator writes locally and the files are delivered; the
    stale quirk files of an earlier run of the same day go, as the simulator removes them locally."""
    from nexus.demo import simulate

    day = dt.date(2026, 3, 3)
    local, remote = storage.folder(str(tmp_path / "landing")), storage.folder(object_store.uri("landing"))
    for f in (local, remote):
        for name in (f"cstr__{day}__03.csv", f"cstr__{day}__04.csv", f"cstr__{day + dt.timedelta(days=1)}__02.csv"):
            f.write_bytes(f"sensor/cstr/{name}", b"tag,timestamp,value,quality\n")  # an earlier run's
    for f in (local, remote):
        simulate("cstr", day, 1, seed=3, landing_dir=f.uri(), lake=Lake(str(tmp_path / f"lake-{f.remote}")))
    on_disk, on_s3 = local.sub("sensor/cstr").files(), remote.sub("sensor/cstr").files()
    assert [e.name for e in on_s3] == [e.name for e in on_disk]
    assert f"cstr__{day + dt.timedelta(days=1)}__02.csv" in [e.name for e in on_s3]  # another day: kept
    assert f"cstr__{day}__01.csv" in [e.name for e in on_s3]


def test_a_writer_killed_mid_write_leaves_a_temporary_the_sweep_removes(tmp_path):
    """A real kill: a process writing a file is SIGKILLed mid-stream. The file never appears; its
    temporary stays (nothing could remove it) until the sweep does."""
    import signal
    import time

    from warehouse.maintenance import sweep_temporaries

    script = ("import sys, time\nfrom warehouse import storage\n"
              "def blocks():\n    yield b'x' * 1000\n    print('writing', flush=True)\n    time.sleep(60)\n"
              f"storage.folder({str(tmp_path)!r})._write('reports/day.html', blocks())\n")
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "writing"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    f = storage.folder(str(tmp_path))
    assert not f.exists("reports/day.html") and f.files("reports") == []  # listings skip it
    [tmp] = f.temporaries(before=dt.datetime.now(UTC) + dt.timedelta(seconds=1))
    assert tmp.startswith("reports/.day.html.") and tmp.endswith(".tmp")
    old = time.time() - 25 * 3600
    os.utime(f.local_path(tmp), (old, old))
    assert sweep_temporaries([f]) == [f.uri(tmp)]
    assert list((tmp_path / "reports").iterdir()) == []


# ----------------------------------------------------------------------------------- the lake on S3
def _raw_rows(n: int, writer: str) -> pa.Table:
    now = dt.datetime(2026, 3, 1, tzinfo=UTC)
    rows = [{"sha256": f"{writer}{i:062d}", "file_name": f"{writer}_{i}.csv", "source": "sensor", "plant_id": "cstr",
             "period_date": dt.date(2026, 3, 1), "size_bytes": i, "received_at": now, "status": "landed",
             "raw_path": f"raw/{writer}_{i}.csv", "reason": None, "rows_loaded": None, "_run_id": writer}
            for i in range(n)]
    return pa.Table.from_pylist(rows, schema=RAW_FILES.schema)


def test_two_writers_commit_to_one_table_on_s3(s3_lake):
    """Two processes' worth of writers (each its own Lake) upsert into one table at once, 15 commits
    each: every commit lands (conditional PUTs, conflicts retried), none is lost or doubled."""
    s3_lake.ensure(RAW_FILES, CommitMeta("pytest", "create", "test"))
    errors: list[BaseException] = []

    def writer(name: str) -> None:
        lake = Lake(s3_lake.root)
        try:
            for i in range(15):
                lake.upsert(RAW_FILES, _raw_rows(i + 1, name), meta=CommitMeta("pytest", f"{name}-{i}", "test"))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    table = s3_lake.read(RAW_FILES)
    assert table.num_rows == 30 and len(set(table["sha256"].to_pylist())) == 30
    history = Lake(s3_lake.root).history(RAW_FILES, limit=100)
    assert sum(1 for h in history if h.get("nexus_operation") == "upsert") == 30
    # The files really are on S3, under the lake's prefix.
    log = s3_lake.files.sub(f"{RAW_FILES.layer}/{RAW_FILES.table}/_delta_log").files()
    assert len([e for e in log if e.name.endswith(".json")]) >= 31


def test_sql_serves_s3_tables_read_only_without_extensions(s3_lake):
    from warehouse.sql import connect

    meta = CommitMeta("pytest", "r1", "test")
    hour = dt.datetime(2026, 3, 1, tzinfo=UTC)
    rows = [{"plant_id": "cstr", "tag": "CSTR.TI101", "hour_start": hour + dt.timedelta(hours=h), "unit": "K",
             "twa_value": 350.0 + h, "min_value": 349.0, "max_value": 351.0 + h, "sample_count": 60, "good_count": 60,
             "good_fraction": 1.0, "flagged_count": 0, "flagged_fraction": 0.0} for h in range(24)]
    table = pa.Table.from_pylist(rows, schema=FCT_TAG_HOURLY.schema)
    s3_lake.replace_interval(FCT_TAG_HOURLY, table, start=hour, end=hour + dt.timedelta(days=1),
                             where={"plant_id": "cstr"}, meta=meta)
    con = connect(s3_lake)
    assert con.sql("SELECT count(*), max(twa_value) FROM gold.fct_tag_hourly").fetchall() == [(24, 373.0)]
    assert con.sql("SELECT twa_value FROM gold.fct_tag_hourly WHERE hour_start = TIMESTAMPTZ '2026-03-01 05:00:00+00'"
                   ).fetchall() == [(355.0,)]
    # Served through Arrow datasets: DuckDB has no file system access at all, so no extension (httpfs)
    # can be installed or loaded, nothing can be written or attached.
    for statement in ("CREATE TABLE x AS SELECT 1", "COPY (SELECT 1) TO '/tmp/nexus-x.csv'",
                      "INSTALL httpfs", "LOAD httpfs", "ATTACH ':memory:' AS other",
                      f"SELECT * FROM read_parquet('{s3_lake.path(FCT_TAG_HOURLY)}/*/*.parquet')"):
        with pytest.raises(Exception):
            con.sql(statement)


def test_a_process_reading_s3_tables_exits_cleanly(s3_lake, tmp_path):
    """Scans left unfinished at exit (a LIMIT, an abandoned iterator) used to abort or crash the
    process with deltalake's Python file system (10 runs of 10 on S3); Arrow's native S3 file
    system exits 0."""
    s3_lake.upsert(RAW_FILES, _raw_rows(200, "x"), meta=CommitMeta("pytest", "r1", "test"))
    script = tmp_path / "read.py"
    script.write_text(
        "import sys\nfrom warehouse.lake import Lake\nfrom warehouse.sql import connect\nfrom warehouse.tables import RAW_FILES\n"
        "lake = Lake(sys.argv[1])\ncon = connect(lake)\n"
        "print(con.sql('SELECT file_name FROM raw.landing__files LIMIT 1').fetchall())\n"
        "it = lake.dataset(RAW_FILES).to_batches(batch_size=10)\nnext(it)\n")
    for _ in range(4):
        proc = subprocess.run([sys.executable, str(script), s3_lake.root], capture_output=True, text=True,
                              env=os.environ.copy(), timeout=120)
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert "x_" in proc.stdout
