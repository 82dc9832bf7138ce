"""The desktop proxy's RFB pieces without sockets: client message parsing, pixel formats,
the encodings a pass-through viewer may ask for, close reasons, and shared encodings."""

from __future__ import annotations

import asyncio
import contextlib
import struct
import zlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import numpy as np
import pytest

from deskpilot.gateway.desktop import client_messages as msg
from deskpilot.gateway.desktop import encodings as enc
from deskpilot.gateway.desktop.close_codes import CloseCode, ViewerClosed, close_reason
from deskpilot.gateway.desktop.encoder import (
    Caps,
    EncodedUpdate,
    Keyframe,
    Rect,
    Rects,
    desktop_size_rects,
    pixel_rect,
)
from deskpilot.gateway.desktop.outbox import MESSAGE_BYTES, Outbox, _messages
from deskpilot.gateway.desktop.pixels import VIEWER_FORMAT, PixelFormat, check_viewer_format


class Bytes:
    def __init__(self, data: bytes) -> None:
        self.data = data

    async def readexactly(self, n: int) -> bytes:
        if len(self.data) < n:
            raise EOFError
        out, self.data = self.data[:n], self.data[n:]
        return out


async def parse(data: bytes, **kwargs: int) -> msg.ClientMessage:
    source = Bytes(data)
    message = await msg.read_client_message(source, **kwargs)
    assert source.data == b""  # exactly one message consumed
    return message


async def test_each_client_message_is_parsed_whole_and_keeps_its_bytes() -> None:
    cases = [
        (msg.key_event(True, 0x61), msg.KeyEvent(True, 0x61, b"")),
        (msg.pointer_event(1, 10, 20), msg.PointerEvent(1, 10, 20, b"")),
        (msg.set_encodings((7, -239)), msg.SetEncodings((7, -239), b"")),
        (
            msg.update_request(True, 640, 480),
            msg.FramebufferUpdateRequest(True, 0, 0, 640, 480, b""),
        ),
        (struct.pack(">Bxxxi", 6, 3) + b"abc", msg.ClientCutText(3, b"")),
        (struct.pack(">BBHHHH", 150, 1, 0, 0, 8, 8), msg.EnableContinuousUpdates(True, b"")),
        (struct.pack(">BxxxIB", 248, 7, 2) + b"hi", msg.Fence(7, b"")),
        (struct.pack(">BxBB", 250, 1, 2), msg.Xvp(2, b"")),
        (struct.pack(">BxHHBx", 251, 800, 600, 1) + bytes(16), msg.SetDesktopSize(800, 600, b"")),
        (struct.pack(">BBHII", 255, 0, 1, 0x61, 30), msg.QemuKeyEvent(True, 0x61, 30, b"")),
        (struct.pack(">BBH", 255, 1, 2) + bytes(6), msg.QemuAudio(2, b"")),
        (msg.set_pixel_format(VIEWER_FORMAT), msg.SetPixelFormat(VIEWER_FORMAT, b"")),
    ]
    for data, expected in cases:
        message = await parse(data)
        assert message == expected  # `raw` does not take part in equality
        assert message.raw == data


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"\x09", CloseCode.UNKNOWN_MESSAGE),
        (struct.pack(">BxH", 2, 257), CloseCode.RFB_MALFORMED),
        (struct.pack(">BxxxIB", 248, 0, 65), CloseCode.RFB_MALFORMED),
        (struct.pack(">BxHHBx", 251, 1, 1, 17), CloseCode.RFB_MALFORMED),
        (struct.pack(">BBH", 255, 1, 3), CloseCode.RFB_MALFORMED),
        (struct.pack(">Bxxxi", 6, -(2**20)), CloseCode.TOO_BIG),
    ],
)
async def test_a_message_that_breaks_the_rules_closes_with_its_code(
    data: bytes, code: CloseCode
) -> None:
    with pytest.raises(ViewerClosed) as caught:
        await parse(data)
    assert caught.value.code == code


async def test_the_clipboard_bound_is_checked_before_the_text_is_read() -> None:
    with pytest.raises(ViewerClosed) as caught:
        await parse(struct.pack(">Bxxxi", 6, 11), max_clipboard_bytes=10)  # no text follows
    assert caught.value.reason == "clipboard text of 11 bytes (at most 10)"


def test_the_viewer_format_is_accepted_however_it_is_spelled() -> None:
    big_endian = PixelFormat(32, 32, True, True, 255, 255, 255, 24, 16, 8)
    check_viewer_format(VIEWER_FORMAT)
    check_viewer_format(big_endian)
    for other in (
        PixelFormat(32, 24, False, True, 255, 255, 255, 16, 8, 0),  # blue first
        PixelFormat(16, 16, False, True, 31, 63, 31, 11, 5, 0),
        PixelFormat(8, 8, False, False, 0, 0, 0, 0, 0, 0),  # colour map
    ):
        with pytest.raises(ViewerClosed) as caught:
            check_viewer_format(other)
        assert caught.value.code == CloseCode.PIXEL_FORMAT


def test_pass_through_strips_encodings_that_change_what_the_client_sends() -> None:
    extended_mouse_buttons, extended_clipboard, qemu_audio = -316, -1063131698, -259
    asked = (enc.TIGHT, extended_mouse_buttons, enc.CURSOR, extended_clipboard, qemu_audio, 12345)
    assert enc.followable(asked) == (enc.TIGHT, enc.CURSOR)


def test_a_close_reason_fits_a_close_frame() -> None:
    reason = close_reason("é" * 200)
    assert len(reason.encode()) <= 123 and reason.endswith("...")
    assert close_reason("short") == "short"


def test_an_update_is_encoded_once_per_kind_of_viewer() -> None:
    screen = np.zeros((4, 4, 4), np.uint8)
    data = bytes(range(16)) * 4  # a 4x4 raw rectangle
    screen[:] = np.frombuffer(data, np.uint8).reshape(4, 4, 4)
    update = EncodedUpdate([Rect(0, 0, 4, 4, enc.RAW, data)], screen)
    raw, tight = Caps(copy_rect=True), Caps(copy_rect=True, tight=True)
    assert update.rects(raw) is update.rects(Caps(copy_rect=True))
    assert update.rects(raw).count == 1
    assert update.rects(raw).chunks[1] is data  # the desktop's bytes themselves, not a copy
    body = b"".join(update.rects(tight).chunks[1:])
    assert body[0] == 0x01  # basic compression, its zlib stream reset
    assert zlib.decompress(body[2:]) == screen[:, :, :3].tobytes()


def test_tight_sends_a_solid_block_as_one_colour() -> None:
    block = np.zeros((100, 100, 4), np.uint8)
    block[:, :] = (10, 20, 30, 0)
    header, body = pixel_rect(5, 6, block, tight=True)
    assert struct.unpack(">HHHHi", header) == (5, 6, 100, 100, enc.TIGHT)
    assert body == bytes([0x80, 10, 20, 30])


def test_a_keyframe_is_the_whole_screen_as_it_was_when_taken() -> None:
    screen = np.full((2, 3, 4), 7, np.uint8)
    keyframe = Keyframe(screen, [])
    screen[:] = 9
    rects = keyframe.rects(Caps())
    assert rects.count == 1
    rect, pixels = rects.chunks
    assert struct.unpack(">HHHHi", rect) == (0, 0, 3, 2, enc.RAW)
    assert pixels == bytes([7]) * 24


class Sent:
    """Where an outbox's websocket messages end up (no network needed for its logic)."""

    def __init__(self) -> None:
        self.data = b""
        self.arrived = asyncio.Event()

    async def send(self, message: bytes | memoryview) -> None:
        self.data += bytes(message)
        self.arrived.set()

    async def next(self) -> bytes:
        await asyncio.wait_for(self.arrived.wait(), 5)
        await asyncio.sleep(0.01)  # the rest of the same answer
        data, self.data = self.data, b""
        self.arrived.clear()
        return data


def rects(*payloads: bytes) -> Rects:
    return Rects(len(payloads), tuple(p for payload in payloads for p in (b"H", payload)))


@asynccontextmanager
async def running(outbox: Outbox) -> AsyncIterator[Sent]:
    sent = Sent()
    task = asyncio.create_task(outbox.run(sent, lambda n: None))  # type: ignore[arg-type]
    try:
        yield sent
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def keyframe_of(value: int) -> Keyframe:
    return Keyframe(np.full((1, 1, 4), value, np.uint8), [])


async def test_an_outbox_answers_only_requests_and_merges_what_changed_between() -> None:
    outbox = Outbox(max_bytes=1000, caps=Caps, keyframe=lambda: keyframe_of(7))
    async with running(outbox) as sent:
        outbox.push_update(rects(b"ignored"))  # before the first request: the keyframe has it
        outbox.request()
        first = await sent.next()
        assert struct.unpack(">BxH", first[:4]) == (0, 1) and first[-4:] == bytes([7] * 4)
        outbox.push_update(rects(b"a"))
        outbox.push_update(rects(b"b", b"c"))
        await asyncio.sleep(0.05)
        assert sent.data == b""  # not asked for
        outbox.request()
        assert await sent.next() == struct.pack(">BxH", 0, 3) + b"HaHbHc"
        outbox.request()
        await asyncio.sleep(0.05)
        assert sent.data == b""  # asked for, nothing changed yet
        outbox.push_update(rects(b"d"))
        assert await sent.next() == struct.pack(">BxH", 0, 1) + b"Hd"  # at once


async def test_a_full_outbox_is_dropped_for_the_keyframe_of_when_the_viewer_asks() -> None:
    screen = [1]
    outbox = Outbox(max_bytes=100, caps=Caps, keyframe=lambda: keyframe_of(screen[0]))
    async with running(outbox) as sent:
        outbox.request()
        await sent.next()
        assert outbox.push_update(rects(b"x" * 80))
        assert not outbox.push_update(rects(b"y" * 30))
        outbox.restart()
        assert outbox.queued_bytes == 0 and outbox.keyframe_due
        assert outbox.push_update(rects(b"y" * 30))  # taken in by the keyframe to come
        screen[0] = 9
        outbox.request()
        update = await sent.next()
        assert struct.unpack(">BxH", update[:4]) == (0, 1) and update[-4:] == bytes([9] * 4)


async def test_messages_go_without_a_request_and_a_resize_goes_alone() -> None:
    outbox = Outbox(max_bytes=100, caps=Caps, keyframe=lambda: keyframe_of(3))
    async with running(outbox) as sent:
        outbox.push_message(b"\x02")
        assert await sent.next() == b"\x02"
        outbox.restart(desktop_size_rects(8, 6))
        outbox.request()
        resize = await sent.next()
        assert resize == struct.pack(">BxH", 0, 1) + struct.pack(
            ">HHHHi", 0, 0, 8, 6, enc.DESKTOP_SIZE
        )
        outbox.request()
        assert (await sent.next())[-4:] == bytes([3] * 4)  # then the keyframe


def test_outgoing_bytes_are_regrouped_into_bounded_messages() -> None:
    big = bytes(MESSAGE_BYTES * 2 + 5)
    messages = _messages((b"a", b"b", big, b"c"))
    assert messages[0] == b"ab"
    assert [len(m) for m in messages[1:]] == [MESSAGE_BYTES, MESSAGE_BYTES, 5, 1]
