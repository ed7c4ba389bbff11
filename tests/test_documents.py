from __future__ import annotations

import logging

import pytest

from qa.documents import scan
from qa.errors import NoDocumentsError


def test_scan_reads_txt_and_md_recursively_and_skips_the_rest(tmp_path, caplog):
    (tmp_path / "a.txt").write_text("Alpha text.", "utf-8")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.md").write_text("# B\n\nBeta.", "utf-8")
    (tmp_path / "image.png").write_bytes(b"\x89PNG")
    (tmp_path / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    (tmp_path / ".hidden.txt").write_text("secret", "utf-8")
    (tmp_path / "binary.txt").write_bytes(b"\x00\x01\x02ELF binary")  # valid UTF-8, but no text
    (tmp_path / "broken.md").symlink_to(tmp_path / "nowhere.md")
    with caplog.at_level(logging.WARNING):
        docs, skipped = scan(tmp_path)
    assert [d.path for d in docs] == ["a.txt", "sub/b.md"]
    assert {s.path: s.reason for s in skipped} == {
        "image.png": "not a .txt or .md file", "latin1.txt": "not valid UTF-8 (byte 3)",
        "binary.txt": "binary (it holds NUL bytes)", "broken.md": "a link to nothing"}
    assert all(f"skipped {name}" in caplog.text for name in ("image.png", "latin1.txt", "binary.txt", "broken.md"))


def test_scan_without_documents_is_a_clear_error(tmp_path):
    with pytest.raises(NoDocumentsError, match="no .txt or .md documents"):
        scan(tmp_path)
    with pytest.raises(NoDocumentsError, match="not found"):
        scan(tmp_path / "missing")
    (tmp_path / "notes.txt").write_text("A file.", "utf-8")
    with pytest.raises(NoDocumentsError, match="is a file, not a folder"):
        scan(tmp_path / "notes.txt")


def test_bom_is_dropped_and_hash_follows_bytes(tmp_path):
    (tmp_path / "a.txt").write_bytes(b"\xef\xbb\xbfHello there.")
    (docs, _) = scan(tmp_path)
    assert docs[0].text == "Hello there."
    before = docs[0].sha256
    (tmp_path / "a.txt").write_bytes(b"\xef\xbb\xbfHello there!")
    assert scan(tmp_path)[0][0].sha256 != before
