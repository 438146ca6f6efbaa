from __future__ import annotations

import io
import tarfile

from sorter_common.reproducible_tar import tar_gz_bytes

MEMBERS = [("b/x.py", b"print(1)\n"), ("a.txt", b"hello")]


def test_the_same_members_give_the_same_bytes() -> None:
    assert tar_gz_bytes(MEMBERS) == tar_gz_bytes(list(MEMBERS))
    assert tar_gz_bytes(MEMBERS) != tar_gz_bytes([("b/x.py", b"print(2)\n"), ("a.txt", b"hello")])


def test_the_gzip_header_has_no_time_and_no_name() -> None:
    data = tar_gz_bytes(MEMBERS)
    assert data[:4] == b"\x1f\x8b\x08\x00"  # gzip, deflate, no FNAME flag
    assert data[4:8] == b"\x00\x00\x00\x00"  # mtime 0


def test_members_keep_their_order_with_fixed_owner_time_and_mode() -> None:
    with tarfile.open(fileobj=io.BytesIO(tar_gz_bytes(MEMBERS, compresslevel=6))) as archive:
        members = archive.getmembers()
        assert [m.name for m in members] == ["b/x.py", "a.txt"]
        assert {(m.mtime, m.mode, m.uid, m.gid, m.uname, m.gname) for m in members} == {(0, 0o644, 0, 0, "", "")}
        extracted = archive.extractfile("a.txt")
        assert extracted is not None and extracted.read() == b"hello"
