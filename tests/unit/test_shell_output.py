"""Bounded output, readable decoding and the end-marker splitter of the shell executor."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given
from hypothesis import strategies as st

from deskpilot.common.config import settings_table
from deskpilot.shell.markers import MarkerSplitter, ShellGone
from deskpilot.shell.output import BoundedOutput, incremental_decoder, readable
from deskpilot.shell.relay import ChunkRelay
from deskpilot.shell.settings import ShellSettings


def test_short_output_is_kept_whole() -> None:
    out = BoundedOutput(100)
    out.append(b"hello ")
    out.append(b"world")
    assert out.text() == "hello world"
    assert not out.truncation().truncated and out.truncation().total_bytes == 11


@given(st.lists(st.binary(max_size=50), max_size=20), st.integers(2, 64))
def test_head_and_tail_are_the_first_and_last_bytes(chunks: list[bytes], limit: int) -> None:
    out = BoundedOutput(limit)
    for chunk in chunks:
        out.append(chunk)
    whole = b"".join(chunks)
    assert out.total == len(whole)
    if len(whole) <= limit:
        assert out.omitted == 0 and out.text() == readable(whole)
        return
    # Up to 3 bytes more are left out on each side rather than split a character.
    assert len(whole) - limit <= out.omitted <= len(whole) - limit + 6
    head, tail = out.text().split(f"\n[... {out.omitted} bytes of output omitted ...]\n")
    assert readable(whole).startswith(head) and readable(whole).endswith(tail)


def test_cut_never_splits_a_character() -> None:
    out = BoundedOutput(10)
    out.append("ééééééééé".encode())  # 18 bytes: the 5-byte head ends inside a character
    head, tail = out.text().split("\n[... 10 bytes of output omitted ...]\n")
    assert head == "éé" and tail == "éé"


def test_readable_escapes_invalid_bytes_and_control_characters() -> None:
    assert readable(b"ok\t\n\xff\x00\x1b[1m") == "ok\t\n\\xff\\x00\\x1b[1m"


def test_incremental_decoding_keeps_split_characters() -> None:
    decoder = incremental_decoder()
    data = "漢字".encode()
    parts = [readable(data[:2], False, decoder), readable(data[2:], False, decoder)]
    assert "".join(parts) + readable(b"", True, decoder) == "漢字"


async def test_splitter_finds_a_marker_split_across_reads() -> None:
    splitter = MarkerSplitter()
    seen: list[bytes] = []
    token = b"__TOKEN__"
    sink, done = splitter.begin(token, 1000, seen.append)
    for piece in (b"out", b"put__TO", b"KEN", b"__1", b"7\nlater"):
        splitter.feed(piece)
    assert await done == 17
    assert sink.text() == "output" and b"".join(seen) == b"output"
    # Output after the marker belongs to the next command.
    sink, done = splitter.begin(b"__NEXT__", 1000, None)
    splitter.feed(b"!__NEXT__0\n")
    assert await done == 0 and sink.text() == "later!"


async def test_splitter_streams_without_waiting_for_the_marker() -> None:
    splitter = MarkerSplitter()
    seen: list[bytes] = []
    _sink, done = splitter.begin(b"__TOKEN__", 1000, seen.append)
    splitter.feed(b"line1\n")
    assert seen == [b"line1\n"]
    splitter.feed(b"x__TOK")  # could be the token: held back
    assert seen == [b"line1\n", b"x"]
    splitter.eof()
    with pytest.raises(ShellGone):
        await asyncio.wait_for(done, 1)


async def test_relay_skips_what_a_slow_client_cannot_take() -> None:
    relay = ChunkRelay(max_buffered=10)
    relay.put("stdout", b"12345")
    relay.put("stdout", b"6789012")  # over the buffer: skipped and counted in its place
    relay.put("stdout", b"345678")
    relay.put("stderr", "é".encode()[:1])
    relay.put("stderr", "é".encode()[1:])
    relay.close()
    received = [item async for item in relay]
    assert received == [
        ("stdout", "12345"),
        ("stdout", "\n[... 13 bytes not streamed: the client fell behind ...]\n"),
        ("stderr", "é"),
    ]


def test_every_setting_is_described() -> None:
    for flag, _env, _default, description in settings_table(ShellSettings):
        assert description, flag
