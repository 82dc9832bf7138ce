"""Display.Inspect in a real local sandbox: its session bus carries a real GTK window's
accessibility tree, and the display executor names the widget at a point, the window
that holds it and the focused field with its label, as the safety gate needs them."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from google.protobuf import struct_pb2

from deskpilot.common.errors import field_violations
from deskpilot.common.grpc_client import open_channel
from deskpilot.common.sandbox_credential import call_metadata
from deskpilot.orchestrator.sandboxes.client import SandboxClient
from deskpilot.v1 import common_pb2, display_pb2, display_pb2_grpc, safety_pb2, safety_pb2_grpc
from tests.fixtures.sandboxes import local_sandbox, run_bash

pytestmark = [pytest.mark.x11, pytest.mark.timeout(180)]
APP = Path(__file__).resolve().parents[1] / "helpers" / "gtk_widgets.py"


class Desktop:
    def __init__(
        self, client: SandboxClient, stub: display_pb2_grpc.DisplayStub, credential: str,
        points: dict[str, list[int]],
    ) -> None:  # fmt: skip
        self.client, self.stub, self.points = client, stub, points
        self.metadata = call_metadata(credential)

    async def inspect(self, point: list[int] | None = None) -> common_pb2.UiContext:
        request = display_pb2.InspectRequest()
        if point is not None:
            request.point.CopyFrom(common_pb2.Point(x=point[0], y=point[1]))
        reply = await self.stub.Inspect(request, metadata=self.metadata)
        return reply.ui


@pytest.fixture
async def desktop(sandbox_dir: Path) -> AsyncIterator[Desktop]:
    """A sandbox showing the test's GTK window; the points of its widgets."""
    app = sandbox_dir / "gtk_widgets.py"
    shutil.copy(APP, app)
    app.chmod(0o644)  # the sandbox's user runs it
    async with local_sandbox(sandbox_dir) as (sandbox, client):
        started = await run_bash(
            client, f"setsid /usr/bin/python3 {app} > ~/widgets.json 2> ~/widgets.log &"
        )
        assert not started.is_error, started.text
        for _ in range(100):
            shown = await run_bash(client, "cat ~/widgets.json")
            if shown.text.startswith("{"):
                points = json.loads(shown.text.splitlines()[0])
                break
            await asyncio.sleep(0.1)
        else:
            log = await run_bash(client, "cat ~/widgets.log")
            pytest.fail(f"the GTK window never showed: {log.text}")
        async with open_channel(sandbox.endpoints.display_address) as channel:
            stub = display_pb2_grpc.DisplayStub(channel)
            yield Desktop(client, stub, sandbox.secrets.executor_credential, points)


async def test_inspect_names_the_widget_at_a_point_and_its_window(desktop: Desktop) -> None:
    ui = await desktop.inspect(desktop.points["button"])
    assert ui.available
    assert (ui.widget.role, ui.widget.name) == ("push button", "Delete account")
    assert ui.dialog_title == "Account settings"
    assert "sensitive" in ui.widget.states


@pytest.mark.parametrize(
    ("widget", "name"),
    [("trash", "Move to Trash"), ("pay", "Pay"), ("accept", "Accept")],
    ids=["icon-only", "tiny", "faint"],
)
async def test_inspect_names_buttons_ocr_cannot_read(
    desktop: Desktop, widget: str, name: str
) -> None:
    ui = await desktop.inspect(desktop.points[widget])
    assert (ui.widget.role, ui.widget.name) == ("push button", name)


async def test_inspect_finds_the_focused_field_and_its_label(desktop: Desktop) -> None:
    ui = await desktop.inspect()  # at the pointer, wherever it is: the focus is the same
    assert ui.focused.role == "password text"
    assert ui.focused.label == "Password"
    assert "focused" in ui.focused.states
    assert not ui.focus_in_address_bar
    assert ui.window_class  # the active window's WM_CLASS, from the window manager


async def test_an_action_reports_what_is_under_the_pointer_once_settled(desktop: Desktop) -> None:
    x, y = desktop.points["button"]
    action = display_pb2.ComputerAction(
        mouse_move=display_pb2.MouseMoveAction(coordinate=common_pb2.Point(x=x, y=y))
    )
    reply = await desktop.stub.Act(
        display_pb2.ActRequest(action=action, return_ui=True), metadata=desktop.metadata
    )
    assert reply.ui.available and reply.ui.widget.name == "Delete account"
    plain = await desktop.stub.Act(display_pb2.ActRequest(action=action), metadata=desktop.metadata)
    assert not plain.HasField("ui")  # only when asked: the lookup costs D-Bus round trips


async def test_a_point_off_the_screen_is_refused(desktop: Desktop) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await desktop.inspect([99_999, 5])
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "point (99999, 5) is outside the screenshot" in (refused.value.details() or "")
    assert [v.field for v in field_violations(refused.value)] == ["point"]


def _computer_call(**fields: object) -> common_pb2.ToolCall:
    arguments = struct_pb2.Struct()
    arguments.update(fields)
    return common_pb2.ToolCall(name="computer", input=arguments, tool_use_id="toolu_1")


async def test_the_orchestrator_reads_the_tree_for_clicks_and_typing_only(
    desktop: Desktop,
) -> None:
    # What the orchestrator hands the gate with each call (ActionContext.ui).
    click = await desktop.client.ui_for(
        _computer_call(action="left_click", coordinate=desktop.points["button"])
    )
    assert click is not None and click.widget.name == "Delete account"
    typing = await desktop.client.ui_for(_computer_call(action="type", text="hunter2"))
    assert typing is not None and typing.focused.role == "password text"
    assert await desktop.client.ui_for(_computer_call(action="screenshot")) is None
    # A point the click itself would refuse: judged without the tree, never an error.
    off = await desktop.client.ui_for(_computer_call(action="left_click", coordinate=[-5, 99_999]))
    assert off is not None and not off.available


@pytest.mark.parametrize(
    ("widget", "rule"),
    [("button", "computer.click-delete"), ("trash", "computer.click-delete"),
     ("pay", "computer.click-payment"), ("accept", "computer.click-accept")],
)  # fmt: skip
async def test_the_gate_asks_a_person_for_clicks_on_what_the_tree_names(
    desktop: Desktop, safety: tuple[object, safety_pb2_grpc.SafetyStub], widget: str, rule: str
) -> None:
    _, safety_stub = safety
    call = _computer_call(action="left_click", coordinate=desktop.points[widget])
    ui = await desktop.client.ui_for(call)
    assert ui is not None
    # The screenshot the model saw is not given: the widget alone decides.
    reply = await safety_stub.CheckAction(
        safety_pb2.CheckActionRequest(call=call, context=safety_pb2.ActionContext(ui=ui))
    )
    assert reply.verdict.decision == safety_pb2.DECISION_CONFIRM
    assert rule in [r.rule_id for r in reply.verdict.reasons]


async def test_typing_is_judged_by_the_field_that_has_the_focus(
    desktop: Desktop, safety: tuple[object, safety_pb2_grpc.SafetyStub]
) -> None:
    _, safety_stub = safety

    async def verdict(text: str) -> list[str]:
        call = _computer_call(action="type", text=text)
        ui = await desktop.client.ui_for(call)
        assert ui is not None
        reply = await safety_stub.CheckAction(
            safety_pb2.CheckActionRequest(call=call, context=safety_pb2.ActionContext(ui=ui))
        )
        return [r.rule_id for r in reply.verdict.reasons]

    assert await verdict("hunter2") == ["computer.type-into-secret"]  # the password field
    x, y = desktop.points["cvv"]
    click = display_pb2.ComputerAction(
        left_click=display_pb2.ClickAction(coordinate=common_pb2.Point(x=x, y=y))
    )
    await desktop.stub.Act(display_pb2.ActRequest(action=click), metadata=desktop.metadata)
    assert await verdict("123") == ["computer.type-into-card"]  # three digits, a CVV


PAGE = (
    "<!doctype html><title>Checkout</title><button style='position:fixed;inset:0;"
    "width:100%;height:100%;font-size:40px'>Place order</button>"
)


async def test_firefox_names_the_page_button_its_url_and_the_address_bar(
    sandbox_dir: Path, safety: tuple[object, safety_pb2_grpc.SafetyStub]
) -> None:
    _, safety_stub = safety
    page = sandbox_dir / "checkout.html"
    page.write_text(PAGE)
    page.chmod(0o644)
    url = page.as_uri()
    async with local_sandbox(sandbox_dir) as (sandbox, client):
        await run_bash(
            client,
            f"mkdir -p ~/ff; setsid firefox-esr --no-remote --profile ~/ff {url} >~/ff.log 2>&1 &",
        )
        geometry = await run_bash(
            client, "xdotool search --sync --onlyvisible --class firefox getwindowgeometry --shell"
        )
        box = dict(line.split("=") for line in geometry.text.split() if "=" in line)
        # Well inside the page, below the browser's toolbars: the button fills the page.
        left, top, width, height = (int(box[k]) for k in ("X", "Y", "WIDTH", "HEIGHT"))
        point = [left + width // 2, top + height * 3 // 4]
        click = _computer_call(action="left_click", coordinate=point)
        ui = None
        for _ in range(150):  # Firefox builds its tree after the page loads
            ui = await client.ui_for(click)
            if ui is not None and ui.url == url and ui.widget.name == "Place order":
                break
            await asyncio.sleep(0.2)
        assert ui is not None and ui.url == url, ui
        assert (ui.widget.role, ui.widget.name) == ("push button", "Place order")
        assert ui.window_class == "firefox-esr"
        reply = await safety_stub.CheckAction(
            safety_pb2.CheckActionRequest(call=click, context=safety_pb2.ActionContext(ui=ui))
        )
        assert "computer.click-payment" in [r.rule_id for r in reply.verdict.reasons]

        # Ctrl+L: what is typed now goes to the address bar, and is checked as navigation.
        async with open_channel(sandbox.endpoints.display_address) as channel:
            stub = display_pb2_grpc.DisplayStub(channel)
            keys = display_pb2.ComputerAction(key=display_pb2.KeyAction(text="ctrl+l"))
            metadata = call_metadata(sandbox.secrets.executor_credential)
            await stub.Act(display_pb2.ActRequest(action=keys), metadata=metadata)
        typing = _computer_call(action="type", text="https://evil.example/\n")
        for _ in range(50):  # Firefox publishes the focus change a moment after the key
            ui = await client.ui_for(typing)
            if ui is not None and ui.focus_in_address_bar:
                break
            await asyncio.sleep(0.1)
        assert ui is not None and ui.focus_in_address_bar, ui
        reply = await safety_stub.CheckAction(
            safety_pb2.CheckActionRequest(
                call=typing,
                context=safety_pb2.ActionContext(ui=ui),
                policy=safety_pb2.SafetyPolicy(allowed_domains=["example.com"]),
            )
        )
        assert "network.navigate-not-allowed" in [r.rule_id for r in reply.verdict.reasons]
        assert reply.verdict.decision != safety_pb2.DECISION_ALLOW
