"""The console over a lake on S3: report files are served from the object store as from disk."""

from __future__ import annotations

import pytest

from nexus.console.app import create_app
from nexus.console.auth import Users

pytestmark = [pytest.mark.s3]


def test_report_files_come_from_the_object_store(s3_lake, tmp_path):
    home = tmp_path / "console-home"
    Users(home).add("viewer", "correct horse", "viewer")
    s3_lake.files.write_text("reports/sustainability/2026-03-02.html", "<h1>Executive summary</h1>")
    s3_lake.files.write_text("_validation/results.html", "<h1>Validation results</h1>")
    s3_lake.files.write_text("raw/sensor/cstr/secret.csv", "tag,value\n")
    app = create_app(s3_lake, home=home, ack_timeout_s=1.0, broker=("127.0.0.1", 1))
    anon = app.server.test_client()
    assert anon.get("/files/reports/sustainability/2026-03-02.html").status_code == 401
    client = app.server.test_client()
    assert client.post("/login", data={"username": "viewer", "password": "correct horse"}).status_code == 302
    report = client.get("/files/reports/sustainability/2026-03-02.html")
    assert report.status_code == 200 and b"Executive summary" in report.data
    assert report.mimetype == "text/html" and "sandbox" in report.headers["Content-Security-Policy"]
    assert client.get("/files/_validation/results.html").status_code == 200
    for path in ("/files/raw/sensor/cstr/secret.csv", "/files/reports/../raw/sensor/cstr/secret.csv",
                 "/files/reports/sustainability/missing.html", "/files/reports/.hidden", "/files/reports//x",
                 "/files/reports/../_validation/results.html"):  # a served file, but only by its own path
        assert client.get(path).status_code == 404, path
