"""A local, scripted stand-in for the Anthropic Messages API (not Anthropic's API).

Tests, benchmarks and keyless demos point the real `anthropic` SDK at it through
`base_url`. It answers from a script of turns, enforces the request rules the real API
enforces (with the API's 400 error shape), and counts tokens with a prompt-caching
simulation so strategies can be compared.
"""

from deskpilot.standin.conversations import ConversationScript
from deskpilot.standin.errors import ApiError, InvalidRequest
from deskpilot.standin.script import (
    FINISHED_TEXT,
    Responder,
    Script,
    ScriptedError,
    TextBlock,
    ThinkingBlock,
    ToolUseBlock,
    Turn,
)
from deskpilot.standin.server import BANNER, STAND_IN_HEADER, RecordedRequest, StandInServer
from deskpilot.standin.tokens import InputUsage, PromptCache

__all__ = [
    "BANNER",
    "FINISHED_TEXT",
    "STAND_IN_HEADER",
    "ApiError",
    "ConversationScript",
    "InputUsage",
    "InvalidRequest",
    "PromptCache",
    "RecordedRequest",
    "Responder",
    "Script",
    "ScriptedError",
    "StandInServer",
    "TextBlock",
    "ThinkingBlock",
    "ToolUseBlock",
    "Turn",
]
