"""How the CLI shows session events: one readable line per event, streamed model output
kept apart from whole lines, colour only when asked."""

from __future__ import annotations

import io

import pytest
from google.protobuf import struct_pb2

from deskpilot.cli.live import LiveView
from deskpilot.cli.render import (
    STAND_IN_BANNER,
    Style,
    ViewState,
    describe_call,
    render_banner,
    render_event,
    render_summary,
    render_table,
    shorten,
)
from deskpilot.v1 import common_pb2, events_pb2, safety_pb2, session_pb2

E = events_pb2
S = session_pb2
PLAIN = Style(colour=False)


def _call(name: str, tool_type: str = "", **fields: object) -> common_pb2.ToolCall:
    arguments = struct_pb2.Struct()
    arguments.update(fields)
    return common_pb2.ToolCall(tool_use_id="toolu_1", name=name, tool_type=tool_type,
                               input=arguments)  # fmt: skip


def _lines(*events: E.Event, state: ViewState | None = None) -> list[str]:
    state = state or ViewState()
    return [line for event in events for line in render_event(event, state, PLAIN)]


@pytest.mark.parametrize(
    ("call", "shown"),
    [
        (_call("computer", action="left_click", coordinate=[640, 400]),
         "computer left_click (640, 400)"),
        (_call("computer", action="type", text="hello\nworld"), "computer type 'hello…'"),
        (_call("computer", action="scroll", coordinate=[10, 20], scroll_direction="down",
               scroll_amount=3), "computer scroll (10, 20) down by 3"),
        (_call("computer", action="left_click_drag", start_coordinate=[1, 2], coordinate=[3, 4]),
         "computer left_click_drag (1, 2) (3, 4)"),
        (_call("computer", action="zoom", region=[0, 0, 100, 50]), "computer zoom [0, 0, 100, 50]"),
        (_call("left_click", "computer_toolset_20260801", coordinate=[5, 6]),
         "computer left_click (5, 6)"),
        (_call("bash", command="ls -l /tmp\necho done"), "bash $ ls -l /tmp…"),
        (_call("bash", restart=True), "bash restart"),
        (_call("str_replace_based_edit_tool", command="view", path="/h/a.txt", view_range=[1, 5]),
         "edit view /h/a.txt [1.0, 5.0]"),
        (_call("str_replace_editor", command="create", path="/h/b.txt", file_text="x"),
         "edit create /h/b.txt"),
    ],
)  # fmt: skip
def test_tool_calls_read_as_a_few_words(call: common_pb2.ToolCall, shown: str) -> None:
    assert describe_call(call) == shown


def test_a_verdict_line_names_the_step_the_action_and_the_decision() -> None:
    call = _call("computer", action="left_click", coordinate=[640, 400])
    allow = E.SafetyVerdict(tool_use_id="toolu_1", verdict=safety_pb2.Verdict(
        decision=safety_pb2.DECISION_ALLOW))  # fmt: skip
    lines = _lines(
        E.Event(step=3, action_proposed=E.ActionProposed(call=call)),
        E.Event(step=3, safety_verdict=allow),
    )
    assert lines == ["[step 3] computer left_click (640, 400)  → allow"]


def test_blocked_and_fail_closed_verdicts_say_why() -> None:
    reason = safety_pb2.Reason(rule_id="shell.rm-root", message="deletes the whole disk")
    state = ViewState(calls={"toolu_1": _call("bash", command="rm -rf /")})
    blocked = E.SafetyVerdict(
        tool_use_id="toolu_1",
        verdict=safety_pb2.Verdict(decision=safety_pb2.DECISION_BLOCK, reasons=[reason]),
    )
    closed = E.SafetyVerdict(
        tool_use_id="toolu_1",
        verdict=safety_pb2.Verdict(decision=safety_pb2.DECISION_BLOCK),
        fail_closed=True,
    )
    lines = _lines(E.Event(step=2, safety_verdict=blocked),
                   E.Event(step=2, safety_verdict=closed), state=state)  # fmt: skip
    assert lines == [
        "[step 2] bash $ rm -rf /  → BLOCK: deletes the whole disk",
        "[step 2] bash $ rm -rf /  → BLOCK: safety gate unreachable",
    ]


def test_confirmations_show_the_action_the_reasons_and_the_decision() -> None:
    request = E.ConfirmationRequested(
        confirmation_id="c-1",
        call=_call("bash", command="sudo reboot"),
        reasons=[safety_pb2.Reason(rule_id="shell.sudo", message="runs as root"),
                 safety_pb2.Reason(rule_id="shell.power", message="restarts the machine")],
    )  # fmt: skip
    lines = _lines(
        E.Event(confirmation_requested=request),
        E.Event(confirmation_resolved=E.ConfirmationResolved(
            confirmation_id="c-1", approved=False, resolved_by="ann", reason="not now")),
        E.Event(confirmation_resolved=E.ConfirmationResolved(
            confirmation_id="c-2", approved=True, resolved_by="bob")),
    )  # fmt: skip
    assert lines == [
        "⚠ confirm: bash $ sudo reboot",
        "  why: runs as root; restarts the machine",
        "✗ denied by ann: not now",
        "✓ approved by bob",
    ]


def test_results_show_their_first_lines_screenshots_and_errors() -> None:
    shot = common_pb2.ObjectRef(name="s.png", size=20480, content_type="image/png")
    lines = _lines(
        E.Event(tool_result=E.ToolResult(text="total 4\nfile.txt\n")),
        E.Event(tool_result=E.ToolResult(text="one\ntwo\nthree\nfour\nfive\n")),
        E.Event(tool_result=E.ToolResult(images=[shot])),
        E.Event(tool_result=E.ToolResult(text="zoomed", images=[shot])),
        E.Event(tool_result=E.ToolResult(is_error=True, text="path must be absolute")),
        E.Event(tool_result=E.ToolResult()),
        E.Event(action_executed=E.ActionExecuted(ok=False, error="X server gone\nmore")),
        E.Event(action_executed=E.ActionExecuted(ok=True)),
    )
    assert lines == [
        "  result: total 4",
        "          file.txt",
        "  result: one",
        "          two",
        "          three",
        "          … 2 more lines not shown (10 characters)",
        "  result: (screenshot, 20 KiB)",
        "  result: zoomed (screenshot, 20 KiB)",
        "  error: path must be absolute",
        "  result: (empty)",
        "  failed: X server gone…",
    ]


def test_an_error_result_is_shown_whole_up_to_a_bound() -> None:
    traceback = (
        "Traceback (most recent call last):\n"
        '  File "/home/u/app.py", line 3, in <module>\n'
        "    main()\n"
        "PermissionError: [Errno 13] Permission denied: '/etc/shadow'\n"
    )
    lines = _lines(E.Event(tool_result=E.ToolResult(is_error=True, text=traceback)))
    assert lines == [
        "  error: Traceback (most recent call last):",
        '           File "/home/u/app.py", line 3, in <module>',
        "             main()",
        "         PermissionError: [Errno 13] Permission denied: '/etc/shadow'",
    ]
    long_error = "\n".join(f"line {n}" for n in range(1, 31))
    [*shown, note] = _lines(E.Event(tool_result=E.ToolResult(is_error=True, text=long_error)))
    assert len(shown) == 20 and shown[-1] == "         line 20"
    assert note == "         … 10 more lines not shown (80 characters)"
    wide = _lines(E.Event(tool_result=E.ToolResult(is_error=True, text="e" * 2500)))
    assert wide == ["  error: " + "e" * 2000, "         … 500 more characters not shown"]


def test_retries_status_changes_and_the_end_are_one_line_each() -> None:
    usage = S.Usage(input_tokens=1000, output_tokens=234, cost_usd=0.0123)
    lines = _lines(
        E.Event(model_retry=E.ModelRetry(attempt=1, wait_seconds=1.0,
                                         reason="529 overloaded_error")),
        E.Event(status_changed=E.StatusChanged(to=S.SESSION_STATUS_WAITING_CONFIRMATION,
                                               reason="an action needs approval")),
        E.Event(session_finished=E.SessionFinished(status=S.SESSION_STATUS_FINISHED,
                                                   reason="max_steps reached", usage=usage,
                                                   steps=5)),
    )  # fmt: skip
    assert lines == [
        "model busy (529 overloaded_error), retrying in 1.0 s (attempt 1 failed)",
        "status → waiting for confirmation: an action needs approval",
        "session ended: finished (max_steps reached) · 5 steps · 1,234 tokens · $0.0123",
    ]


def test_model_text_is_shown_once_whether_it_streamed_or_not() -> None:
    response = E.ModelResponse(stop_reason="end_turn", text="All done.", latency_ms=1500,
                               usage=S.Usage(input_tokens=10, output_tokens=5))  # fmt: skip
    not_streamed = _lines(E.Event(step=4, model_response=response))
    assert not_streamed == ["All done.", "[step 4] model: end_turn · 15 tokens · $0.0000 · 1.5 s"]
    streamed = _lines(
        E.Event(step=4, model_delta=E.ModelDelta(kind=E.DELTA_KIND_TEXT, text="All done.")),
        E.Event(step=4, model_response=response),
    )
    assert streamed == ["[step 4] model: end_turn · 15 tokens · $0.0000 · 1.5 s"]


def test_the_live_view_streams_deltas_and_ends_them_before_the_next_line() -> None:
    out = io.StringIO()
    view = LiveView(out, PLAIN)
    thinking, text = E.DELTA_KIND_THINKING, E.DELTA_KIND_TEXT
    for kind, piece, block in [
        (thinking, "Look ", 0),
        (thinking, "first.", 0),
        (text, "Taking ", 1),
        (text, "a screenshot.", 1),
    ]:
        view.show(
            E.Event(step=1, model_delta=E.ModelDelta(kind=kind, text=piece, block_index=block))
        )
    view.show(E.Event(step=1, status_changed=E.StatusChanged(to=S.SESSION_STATUS_RUNNING)))
    assert out.getvalue() == ("thinking: Look first.\nTaking a screenshot.\nstatus → running\n")


def test_colour_only_when_asked() -> None:
    event = E.Event(status_changed=E.StatusChanged(to=S.SESSION_STATUS_RUNNING))
    assert "\x1b[" not in "".join(render_event(event, ViewState(), PLAIN))
    assert "\x1b[" in "".join(render_event(event, ViewState(), Style(colour=True)))


def test_summary_banner_and_table() -> None:
    claude = S.Session(
        id="s-1", status=S.SESSION_STATUS_WAITING_INPUT, status_reason="the model finished",
        steps=7, usage=S.Usage(input_tokens=20000, output_tokens=466, cost_usd=0.0303),
        config=S.SessionConfig(task="open the browser and find the weather in Paris, please"),
    )  # fmt: skip
    stand_in = S.Session(id="s-2", status=S.SESSION_STATUS_FINISHED, steps=2,
                         usage=S.Usage(input_tokens=900, cost_usd=0.0027),
                         config=S.SessionConfig(task="demo"), model_is_stand_in=True)  # fmt: skip
    assert render_summary(claude, PLAIN) == (
        "s-1: waiting for input (the model finished) · 7 steps · 20,466 tokens · $0.0303"
    )
    assert render_summary(stand_in, PLAIN) == (
        "s-2: finished · 2 steps · 900 tokens · no cost (stand-in)"
    )
    assert render_banner(stand_in, PLAIN) == [STAND_IN_BANNER]
    assert "STAND-IN" in STAND_IN_BANNER and "not Claude" in STAND_IN_BANNER
    assert render_banner(claude, PLAIN) == []
    header, row, scripted = render_table([claude, stand_in])
    assert header.split() == ["ID", "STATUS", "STEPS", "COST", "CREATED", "TASK"]
    assert row.startswith("s-1  waiting for input    7      $0.0303")
    assert "$0.0303" in row and row.endswith("open the browser and find the weather in Paris, p…")
    assert scripted.startswith("s-2  finished (stand-in)  2      stand-in ")
    assert "$" not in scripted


def test_a_stand_in_session_is_labelled_and_never_priced() -> None:
    usage = S.Usage(input_tokens=1000, output_tokens=234, cost_usd=0.0123)
    session = S.Session(id="s-3", model_is_stand_in=True,
                        config=S.SessionConfig(model="claude-sonnet-4-6"))  # fmt: skip
    events = [
        E.Event(session_created=E.SessionCreated(session=session)),
        E.Event(step=1, model_request=E.ModelRequest(model="claude-sonnet-4-6",
                                                     message_count=1, image_count=0)),
        E.Event(step=1, model_response=E.ModelResponse(stop_reason="end_turn", usage=usage,
                                                       latency_ms=100)),
        E.Event(session_finished=E.SessionFinished(status=S.SESSION_STATUS_FINISHED, usage=usage,
                                                   steps=1)),
    ]  # fmt: skip
    expected = [
        "session s-3 created (stand-in as claude-sonnet-4-6)",
        "[step 1] asking the stand-in (as claude-sonnet-4-6) (1 messages, 0 images)",
        "[step 1] model: end_turn · 1,234 tokens · no cost (stand-in) · 0.1 s",
        "session ended: finished · 1 steps · 1,234 tokens · no cost (stand-in)",
    ]
    assert _lines(*events) == expected
    # A view told up front (run and watch know the session first) labels every line too.
    assert _lines(*events[1:], state=ViewState(stand_in=True)) == expected[1:]
    real = _lines(*events[1:3])
    assert real[0] == "[step 1] asking claude-sonnet-4-6 (1 messages, 0 images)"
    assert real[1].endswith("1,234 tokens · $0.0123 · 0.1 s")


def test_shorten_keeps_the_first_line_and_marks_what_it_cut() -> None:
    assert shorten("one\ntwo") == "one…"
    assert shorten("\n  only  \n") == "only"
    assert shorten("x" * 10, 5) == "xxxx…"
    assert shorten("") == ""
