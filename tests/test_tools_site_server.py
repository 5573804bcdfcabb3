"""The local site server serves folders and tarballs over real HTTP on loopback."""

import socket
import tarfile
from pathlib import Path

import httpx
import pytest

from tests.sites import FACT
from tfgrpo_agents.tools import LocalSiteServer, SiteFiles

SHARED_SITES = Path(__file__).resolve().parents[2] / "shared" / "data" / "sites"


def test_serves_a_folder(site):
    with LocalSiteServer(site) as server:
        assert server.url.startswith("http://127.0.0.1:")
        assert "Welcome to Orbit Conf" in httpx.get(server.url).text
        dates = httpx.get(server.url + "dates.html")
        assert dates.status_code == 200 and dates.headers["content-type"].startswith("text/html")
        assert FACT in dates.text
        assert httpx.get(server.url + "missing.html").status_code == 404
        assert httpx.get(server.url + "../../etc/passwd").status_code == 404
        redirect = httpx.get(server.url + "program")
        assert redirect.status_code == 301 and redirect.headers["location"] == "/program/"
        assert "Workshops" in httpx.get(server.url + "program/").text
        assert httpx.get(server.url + "logo.png").headers["content-type"] == "image/png"


def test_serves_a_tarball_without_extracting(site, tmp_path):
    archive = tmp_path / "site.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(site, arcname=".")
    files = SiteFiles(archive)
    assert "program/workshops.html" in files.html_paths()
    with LocalSiteServer(files) as server:
        assert FACT in httpx.get(server.url + "dates.html").text


def test_stop_frees_the_port(site):
    server = LocalSiteServer(site).start()
    port = server.port
    server.stop()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1)


def test_bad_sources_are_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no site at"):
        LocalSiteServer(tmp_path / "absent")
    not_tar = tmp_path / "x.txt"
    not_tar.write_text("hello")
    with pytest.raises(ValueError, match="not a tar archive"):
        LocalSiteServer(not_tar)


@pytest.mark.skipif(not (SHARED_SITES / "python-3.11-docs.tar.gz").exists(), reason="shared data not present")
def test_serves_the_python_docs_tarball():
    with LocalSiteServer(SHARED_SITES / "python-3.11-docs.tar.gz") as server:
        page = httpx.get(server.url + "library/json.html")
        assert page.status_code == 200 and "json — JSON encoder and decoder" in page.text
