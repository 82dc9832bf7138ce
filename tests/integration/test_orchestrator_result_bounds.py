"""What the model receives of a tool result is bounded, for every editor version and for
bash, with the bound stated in the result (real orchestrator, shell executor, stand-in)."""

from __future__ import annotations

import re
from pathlib import Path

from deskpilot.standin import Turn
from deskpilot.v1 import orchestrator_pb2 as pb
from deskpilot.v1 import orchestrator_pb2_grpc as rpc
from deskpilot.v1 import session_pb2
from tests.fixtures.orchestrator import follow_events, status_is

S = session_pb2
EDITORS = {  # one tool set per editor version
    S.TOOL_SET_20241022: "str_replace_editor",  # text_editor_20241022
    S.TOOL_SET_20250124: "str_replace_editor",  # text_editor_20250124
    S.TOOL_SET_20250429: "str_replace_based_edit_tool",  # text_editor_20250429
    S.TOOL_SET_20251124: "str_replace_based_edit_tool",  # text_editor_20250728
}
CUT = re.compile(r"\[output truncated: showed the first \d+ (and last \d+ of \d+ )?characters")


def _write_big_file(path: Path) -> None:
    with path.open("w") as out:  # 3 MB of numbered lines
        for number in range(75_000):
            out.write(f"{number:08d} the quick brown fox jumps over\n")
    assert path.stat().st_size == 3_000_000


async def _run(stub: rpc.OrchestratorStub, tool_set: int) -> tuple[list, str]:
    config = S.SessionConfig(task="look", model="claude-sonnet-4-6", tool_set=tool_set)
    reply = await stub.CreateSession(pb.CreateSessionRequest(config=config))
    events = await follow_events(stub, reply.session.id, status_is(S.SESSION_STATUS_WAITING_INPUT))
    return [e.tool_result for e in events if e.HasField("tool_result")], reply.session.id


def _sent_results(request) -> list[str]:
    """The text of each tool_result the model received in one Messages API request."""
    texts = []
    for message in request.messages:
        for block in message["content"] if isinstance(message["content"], list) else []:
            if block.get("type") == "tool_result":
                texts.append("\n".join(c["text"] for c in block["content"] if c["type"] == "text"))
    return texts


async def test_a_3_mb_view_is_bounded_with_every_editor_version(
    orchestrator_stack, tmp_path: Path
) -> None:
    big = tmp_path / "home" / "big.log"  # the shell executor's home in the stack
    turns = []
    for name in EDITORS.values():
        turns += [Turn.tool_use(name, {"command": "view", "path": str(big)}), Turn.text("seen")]
    async with orchestrator_stack(turns) as stack:
        _write_big_file(big)
        for tool_set in EDITORS:
            [result], _ = await _run(stack.stub, tool_set)
            name = S.ToolSet.Name(tool_set)
            assert not result.is_error, (name, result.text[:300])
            assert len(result.text) <= 16_000, (name, len(result.text))
            assert CUT.search(result.text), (name, result.text[-300:])
            assert "     1\t00000000 the quick" in result.text[:300], name
            sent = _sent_results(stack.model.message_requests[-1])
            assert sent == [result.text], name  # the model got exactly the bounded text
        # The newest editor cuts the view itself, at the max_characters its definition says.
        [editor] = [
            t for t in stack.model.message_requests[-1].body["tools"] if t["name"] == EDITORS[4]
        ]
        assert editor["type"] == "text_editor_20250728" and editor["max_characters"] == 15_488


async def test_bash_output_and_a_configured_bound(orchestrator_stack) -> None:
    flood = Turn.tool_use("bash", {"command": "seq 1 3000000"})
    turns = [flood, Turn.text("ok"), flood, Turn.text("ok")]
    async with orchestrator_stack(turns) as stack:
        [result], _ = await _run(stack.stub, S.TOOL_SET_20250124)
        assert len(result.text) <= 16_000 and result.text.startswith("1\n2\n3\n")
        assert result.text.rstrip("\n").endswith("2999999\n3000000")
        assert "characters; send long output to a file and read it in parts]" in result.text
        small = await stack.add_replica(max_result_characters=2_000)
        [result], _ = await _run(small.stub, S.TOOL_SET_20250124)
        assert len(result.text) <= 2_000 and CUT.search(result.text)
        assert _sent_results(stack.model.message_requests[-1]) == [result.text]
