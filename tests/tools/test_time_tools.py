"""The `time` provider's tools, called through the port as a tool node calls them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from providers.tools.exceptions import ToolInvokeError, ToolNotFoundError, ToolProviderNotFoundError
from tests.tools.conftest import call_tool, texts


@pytest.mark.parametrize("provider_id", ["time", "langgenius/time", "langgenius/time/time"])
async def test_current_time_answers_the_configured_format_in_utc(provider_id: str) -> None:
    # given Dify's node configuration: the format and timezone are `form` parameters
    before = datetime.now(UTC).replace(microsecond=0)
    # when the tool runs
    messages = await call_tool(
        provider_id, "current_time", configurations={"format": "%Y-%m-%d %H:%M:%S", "timezone": "UTC"}
    )
    # then one text message holds the current UTC time in that format
    assert [m.type for m in messages] == ["text"]
    answered = datetime.strptime(messages[0].text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    assert before <= answered <= datetime.now(UTC) + timedelta(seconds=1)


async def test_current_time_defaults_to_utc_with_the_zone_name() -> None:
    messages = await call_tool("time", "current_time")
    assert texts(messages).endswith(" UTC")


async def test_current_time_in_another_timezone() -> None:
    messages = await call_tool(
        "time", "current_time", configurations={"timezone": "Asia/Tokyo", "format": "%z"}
    )
    assert texts(messages) == "+0900"


async def test_current_time_with_an_unknown_timezone_says_so() -> None:
    messages = await call_tool("time", "current_time", configurations={"timezone": "Mars/Olympus"})
    assert texts(messages) == "Invalid timezone: Mars/Olympus"


async def test_weekday_casts_string_numbers_and_names_the_day() -> None:
    # the node renders mixed parameters as text: "2024" must reach the tool as a number
    messages = await call_tool("time", "weekday", {"year": "2024", "month": "2", "day": "29"})
    assert texts(messages) == "February 29, 2024 is Thursday."


async def test_weekday_of_an_impossible_date() -> None:
    messages = await call_tool("time", "weekday", {"year": 2023, "month": 2, "day": 29})
    assert texts(messages) == "Invalid date: Year 2023, Month 2, Day 29."


async def test_timezone_conversion() -> None:
    messages = await call_tool(
        "time",
        "timezone_conversion",
        {
            "current_time": "2024-1-1 0:0:0",
            "current_timezone": "Asia/Shanghai",
            "target_timezone": "Europe/London",
        },
    )
    assert texts(messages) == "2023-12-31 16:00:00"


async def test_timezone_conversion_refuses_an_unknown_zone() -> None:
    with pytest.raises(ToolInvokeError, match="Invalid timezone: 'Nowhere/City'"):
        await call_tool(
            "time",
            "timezone_conversion",
            {"current_time": "2024-01-01 00:00:00", "current_timezone": "Nowhere/City"},
        )


async def test_timezone_conversion_refuses_a_malformed_time() -> None:
    with pytest.raises(ToolInvokeError, match="does not match format"):
        await call_tool("time", "timezone_conversion", {"current_time": "yesterday"})


async def test_localtime_to_timestamp_and_back() -> None:
    stamp = texts(
        await call_tool(
            "time", "localtime_to_timestamp", {"localtime": "2024-03-01 08:00:00", "timezone": "UTC"}
        )
    )
    assert stamp == str(int(datetime(2024, 3, 1, 8, tzinfo=UTC).timestamp()))
    local = texts(
        await call_tool("time", "timestamp_to_localtime", {"timestamp": stamp, "timezone": "Asia/Shanghai"})
    )
    assert local == "2024-03-01 16:00:00"


async def test_localtime_to_timestamp_defaults_to_shanghai() -> None:
    stamp = texts(await call_tool("time", "localtime_to_timestamp", {"localtime": "2024-03-01 08:00:00"}))
    assert stamp == str(int(datetime(2024, 3, 1, 8, tzinfo=ZoneInfo("Asia/Shanghai")).timestamp()))


async def test_timestamp_to_localtime_without_a_timestamp_fails() -> None:
    with pytest.raises(ToolInvokeError):
        await call_tool("time", "timestamp_to_localtime", {"timezone": "UTC"})


async def test_unknown_provider_and_tool_fail_with_difys_error_types() -> None:
    with pytest.raises(ToolProviderNotFoundError, match="builtin provider nope not found"):
        await call_tool("nope", "current_time")
    with pytest.raises(ToolNotFoundError, match="builtin tool nope not found"):
        await call_tool("time", "nope")
    # another organisation's plugin of the same name is not ours to answer for
    with pytest.raises(ToolProviderNotFoundError):
        await call_tool("someone/time/time", "current_time")
