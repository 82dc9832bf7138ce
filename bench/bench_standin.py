"""Benchmark of the Messages API stand-in, driven by the real anthropic SDK.

1. Overhead: the median round trip of a text-only request (the baseline) against one
   carrying a conversation with N 1280x800 screenshots, plain and streamed. The
   stand-in validates every image (base64 decode, header parse), so this is the cost a
   test or benchmark pays per step.
2. Token accounting of two image strategies over a simulated agent loop (screenshot per
   step, breakpoint on the newest block): keep every screenshot, or keep only the last
   three. Prints the input tokens each strategy is billed, split into fresh / cache write
   / cache read, and the ratio against keeping everything.

Memory: the RSS of this process (server and client share it) before and after.

Run: python bench/bench_standin.py [--rounds N] [--steps N]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import io
import statistics
import time
from pathlib import Path
from typing import Any

import anthropic
from PIL import Image

from deskpilot.standin import Script, StandInServer, Turn

MODEL = "claude-sonnet-4-6"
COMPUTER = {
    "type": "computer_20250124",
    "name": "computer",
    "display_width_px": 1280,
    "display_height_px": 800,
}
BETAS = ["computer-use-2025-01-24"]


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def screenshot(seed: int) -> dict[str, Any]:
    """A 1280x800 PNG of about the size a desktop screenshot has (a noisy band keeps it
    from compressing to nothing); `seed` makes each one different."""
    image = Image.new("RGB", (1280, 800), (30, 30, 40))
    image.paste(Image.effect_noise((1280, 90), 60).convert("RGB"), (0, 300))
    for y in range(0, 300, 40):
        image.paste((seed * 37 % 255, y % 255, 120), (0, y, 1280, y + 20))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    data = base64.b64encode(buffer.getvalue()).decode()
    return {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": data}}


def conversation(images: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A tool loop: each step one screenshot action and its image result."""
    messages: list[dict[str, Any]] = [{"role": "user", "content": "Open the settings."}]
    for step, image in enumerate(images):
        tool_id = f"toolu_{step:04d}"
        messages.append(
            {
                "role": "assistant",
                "content": [
                    {
                        "type": "tool_use",
                        "id": tool_id,
                        "name": "computer",
                        "input": {"action": "screenshot"},
                    }
                ],
            }
        )
        messages.append(
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": tool_id, "content": [image]}],
            }
        )
    return messages


async def median_ms(action: Any, rounds: int, warmup: int = 3) -> float:
    for _ in range(warmup):
        await action()
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        await action()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


async def overhead(rounds: int, image_count: int) -> None:
    images = [screenshot(i) for i in range(image_count)]
    heavy = conversation(images)
    light = [{"role": "user", "content": "hello"}]
    forever = Script(responder=lambda request: "ok")
    async with StandInServer(forever) as server:
        client = anthropic.AsyncAnthropic(base_url=server.base_url, api_key="bench", max_retries=0)

        async def plain(messages: list[dict[str, Any]]) -> None:
            await client.beta.messages.create(
                model=MODEL, max_tokens=100, messages=messages, tools=[COMPUTER], betas=BETAS
            )

        async def streamed(messages: list[dict[str, Any]]) -> None:
            async with client.beta.messages.stream(
                model=MODEL, max_tokens=100, messages=messages, tools=[COMPUTER], betas=BETAS
            ) as stream:
                await stream.get_final_message()

        baseline = await median_ms(lambda: plain(light), rounds)
        rows = [
            ("text only, plain (baseline)", baseline),
            ("text only, streamed", await median_ms(lambda: streamed(light), rounds)),
            (f"{image_count} screenshots, plain", await median_ms(lambda: plain(heavy), rounds)),
            (
                f"{image_count} screenshots, streamed",
                await median_ms(lambda: streamed(heavy), rounds),
            ),
        ]
    size_mb = sum(len(i["source"]["data"]) for i in images) / 1e6
    print(f"\n== round trip through the SDK (median of {rounds}; images {size_mb:.1f} MB base64)")
    for name, ms in rows:
        print(f"  {name:<32} {ms:8.2f} ms   x{ms / baseline:5.2f} of baseline")


async def strategies(steps: int) -> None:
    images = [screenshot(i) for i in range(steps)]

    async def run(keep_last: int | None, chunk: int = 1) -> tuple[int, int, int]:
        totals = [0, 0, 0]
        turns = [Turn.tool_use("computer", {"action": "screenshot"}) for _ in range(steps)]
        async with StandInServer(turns) as server:
            client = anthropic.AsyncAnthropic(
                base_url=server.base_url, api_key="bench", max_retries=0
            )
            for step in range(1, steps + 1):
                messages = conversation(images[:step])
                if keep_last is not None:
                    _prune(messages, keep_last, chunk)
                messages[-1]["content"][-1]["cache_control"] = {"type": "ephemeral"}
                usage = (
                    await client.beta.messages.create(
                        model=MODEL,
                        max_tokens=100,
                        messages=messages,
                        tools=[COMPUTER],
                        betas=BETAS,
                    )
                ).usage
                totals[0] += usage.input_tokens
                totals[1] += usage.cache_creation_input_tokens or 0
                totals[2] += usage.cache_read_input_tokens or 0
        return totals[0], totals[1], totals[2]

    rows = [
        ("keep every image", await run(None)),
        ("keep last 3", await run(3)),
        ("keep last 3, prune by 5", await run(3, chunk=5)),
    ]
    print(f"\n== input tokens over a {steps}-step screenshot loop (breakpoint on the newest block)")
    print(f"  {'strategy':<24}{'fresh':>8}{'write':>9}{'read':>9}{'total':>9}{'billed':>9}")
    base_total, base_billed = sum(rows[0][1]), _billed(rows[0][1])
    for name, row in rows:
        total, billed = sum(row), _billed(row)
        print(
            f"  {name:<24}{row[0]:>8}{row[1]:>9}{row[2]:>9}{total:>9}{billed:>9.0f}"
            f"   total x{total / base_total:.2f}, billed x{billed / base_billed:.2f}"
        )
    print("  billed = fresh + 1.25 x write + 0.1 x read (5-minute cache prices, in input tokens)")


def _billed(row: tuple[int, int, int]) -> float:
    fresh, write, read = row
    return fresh + 1.25 * write + 0.1 * read


def _prune(messages: list[dict[str, Any]], keep_last: int, chunk: int) -> None:
    """Replace old screenshots with a short text, keeping at least the newest `keep_last`
    and removing in multiples of `chunk`, so the cached prefix changes less often."""
    results = [m for m in messages if m["role"] == "user" and isinstance(m["content"], list)]
    excess = max(0, len(results) - keep_last)
    for message in results[: excess - excess % chunk]:
        for block in message["content"]:
            block["content"] = "(screenshot removed)"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    print(f"RSS at start: {rss_mb():.1f} MB")
    await overhead(args.rounds, image_count=10)
    await strategies(args.steps)
    print(f"\nRSS at end: {rss_mb():.1f} MB")


if __name__ == "__main__":
    asyncio.run(main())
