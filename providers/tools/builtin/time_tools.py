"""Dify's `time` provider: current time, weekday, timezone conversion, local time <-> Unix timestamp.

Messages and fallbacks follow Dify's tools: a bad date answers a text message, a bad timezone or time
string fails the tool with `ToolInvokeError`.
"""

from __future__ import annotations

import calendar
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from providers.tools.builtin.base import BuiltinProvider, BuiltinTool, ToolContext, text_message
from providers.tools.entities import I18n, ParameterOption, ToolParameter, ToolSpec
from providers.tools.exceptions import ToolInvokeError
from workflows.engine.ports import ToolMessage

TIME_FORMAT = "%Y-%m-%d %H:%M:%S"

# Dify's select options for current_time (value, zh_Hans label).
_TIMEZONES = (
    ("UTC", "UTC"),
    ("America/New_York", "美洲/纽约"),
    ("America/Los_Angeles", "美洲/洛杉矶"),
    ("America/Chicago", "美洲/芝加哥"),
    ("America/Sao_Paulo", "美洲/圣保罗"),
    ("Asia/Shanghai", "亚洲/上海"),
    ("Asia/Ho_Chi_Minh", "亚洲/胡志明市"),
    ("Asia/Tokyo", "亚洲/东京"),
    ("Asia/Dubai", "亚洲/迪拜"),
    ("Asia/Kolkata", "亚洲/加尔各答"),
    ("Asia/Seoul", "亚洲/首尔"),
    ("Asia/Singapore", "亚洲/新加坡"),
    ("Europe/London", "欧洲/伦敦"),
    ("Europe/Berlin", "欧洲/柏林"),
    ("Europe/Moscow", "欧洲/莫斯科"),
    ("Australia/Sydney", "澳大利亚/悉尼"),
    ("Pacific/Auckland", "太平洋/奥克兰"),
    ("Africa/Cairo", "非洲/开罗"),
)


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except Exception:  # ZoneInfoNotFoundError, ValueError for malformed keys
        raise ToolInvokeError(f"Invalid timezone: {name!r}") from None


def _label(en: str, zh: str) -> I18n:
    return I18n(en_US=en, zh_Hans=zh, pt_BR=en)


class CurrentTimeTool(BuiltinTool):
    spec = ToolSpec(
        name="current_time",
        author="Dify",
        label=_label("Current Time", "获取当前时间"),
        description=_label("A tool for getting the current time.", "一个用于获取当前时间的工具。"),
        llm_description="A tool for getting the current time.",
        parameters=(
            ToolParameter(
                name="format",
                label=_label("Format", "格式"),
                type="string",
                form="form",
                default="%Y-%m-%d %H:%M:%S",
                human_description=_label("Time format in strftime standard.", "strftime 标准的时间格式。"),
            ),
            ToolParameter(
                name="timezone",
                label=_label("Timezone", "时区"),
                type="select",
                form="form",
                default="UTC",
                human_description=_label("Timezone", "时区"),
                options=tuple(ParameterOption(value=tz, label=_label(tz, zh)) for tz, zh in _TIMEZONES),
            ),
        ),
    )

    async def invoke(self, parameters: Mapping[str, Any], ctx: ToolContext) -> AsyncIterator[ToolMessage]:
        name = parameters.get("timezone") or "UTC"
        fmt = parameters.get("format") or "%Y-%m-%d %H:%M:%S %Z"
        if name == "UTC":
            yield text_message(datetime.now(UTC).strftime(fmt))
            return
        try:
            zone = ZoneInfo(name)
        except Exception:
            yield text_message(f"Invalid timezone: {name}")
            return
        yield text_message(datetime.now(zone).strftime(fmt))


class WeekdayTool(BuiltinTool):
    spec = ToolSpec(
        name="weekday",
        author="Bowen Liang",
        label=_label("Weekday Calculator", "星期几计算器"),
        description=_label(
            "A tool for calculating the weekday of a given date.", "计算指定日期为星期几的工具。"
        ),
        llm_description="A tool for calculating the weekday of a given date by year, month and day.",
        parameters=tuple(
            ToolParameter(
                name=name,
                label=_label(en, zh),
                type="number",
                form="llm",
                required=True,
                human_description=_label(en, zh),
            )
            for name, en, zh in (("year", "Year", "年"), ("month", "Month", "月"), ("day", "day", "日"))
        ),
    )

    async def invoke(self, parameters: Mapping[str, Any], ctx: ToolContext) -> AsyncIterator[ToolMessage]:
        year, month, day = parameters.get("year"), parameters.get("month"), parameters.get("day")
        try:
            date = datetime(int(year), int(month), int(day))  # type: ignore[arg-type]
        except (TypeError, ValueError, OverflowError):
            yield text_message(f"Invalid date: Year {year}, Month {month}, Day {day}.")
            return
        readable = f"{calendar.month_name[date.month]} {date.day}, {date.year}"
        yield text_message(f"{readable} is {calendar.day_name[date.weekday()]}.")


class TimezoneConversionTool(BuiltinTool):
    spec = ToolSpec(
        name="timezone_conversion",
        author="zhuhao",
        label=_label("convert time to equivalent time zone", "时区转换"),
        description=_label("A tool to convert time to equivalent time zone", "时区转换"),
        llm_description="A tool to convert time to equivalent time zone",
        parameters=(
            ToolParameter(
                name="current_time",
                label=_label("current time", "当前时间"),
                required=True,
                human_description=_label(
                    "current time, such as 2024-1-1 0:0:0", "当前时间, 比如2024-1-1 0:0:0"
                ),
            ),
            ToolParameter(
                name="current_timezone",
                label=_label("Current Timezone", "当前时区"),
                required=True,
                default="Asia/Shanghai",
                human_description=_label(
                    "Current Timezone, such as Asia/Shanghai", "当前时区, 比如Asia/Shanghai"
                ),
            ),
            ToolParameter(
                name="target_timezone",
                label=_label("Target Timezone", "目标时区"),
                required=True,
                default="Asia/Tokyo",
                human_description=_label("Target Timezone, such as Asia/Tokyo", "目标时区, 比如Asia/Tokyo"),
            ),
        ),
    )

    async def invoke(self, parameters: Mapping[str, Any], ctx: ToolContext) -> AsyncIterator[ToolMessage]:
        current = parameters.get("current_time") or ""
        source = _zone(parameters.get("current_timezone") or "Asia/Shanghai")
        target = _zone(parameters.get("target_timezone") or "Asia/Tokyo")
        try:
            local = datetime.strptime(current, TIME_FORMAT).replace(tzinfo=source)
        except ValueError as exc:
            raise ToolInvokeError(str(exc)) from None
        yield text_message(local.astimezone(target).strftime(TIME_FORMAT))


def _optional_zone(name: Any) -> tzinfo | None:
    # An empty timezone means the server's own, as in Dify.
    return _zone(str(name)) if name else None


class LocaltimeToTimestampTool(BuiltinTool):
    spec = ToolSpec(
        name="localtime_to_timestamp",
        author="zhuhao",
        label=_label("localtime to timestamp", "获取时间戳"),
        description=_label("A tool for localtime convert to timestamp", "获取时间戳"),
        llm_description="A tool for localtime convert to timestamp",
        parameters=(
            ToolParameter(
                name="localtime",
                label=_label("localtime", "本地时间"),
                required=True,
                human_description=_label(
                    "localtime, such as 2024-1-1 0:0:0",
                    "本地时间，比如 2024-1-1 0:0:0",  # noqa: RUF001
                ),
            ),
            ToolParameter(
                name="timezone",
                label=_label("Timezone", "时区"),
                default="Asia/Shanghai",
                human_description=_label("Timezone, such as Asia/Shanghai", "时区，比如 Asia/Shanghai"),  # noqa: RUF001
            ),
        ),
    )

    async def invoke(self, parameters: Mapping[str, Any], ctx: ToolContext) -> AsyncIterator[ToolMessage]:
        localtime = parameters.get("localtime") or ""
        zone = _optional_zone(parameters.get("timezone", "Asia/Shanghai"))
        try:
            parsed = datetime.strptime(localtime, TIME_FORMAT)
        except ValueError as exc:
            raise ToolInvokeError(str(exc)) from None
        aware = parsed.replace(tzinfo=zone) if zone else parsed.astimezone()
        yield text_message(str(int(aware.timestamp())))


class TimestampToLocaltimeTool(BuiltinTool):
    spec = ToolSpec(
        name="timestamp_to_localtime",
        author="zhuhao",
        label=_label("Timestamp to localtime", "时间戳转换"),
        description=_label("A tool for timestamp convert to localtime", "时间戳转换"),
        llm_description="A tool for timestamp convert to localtime",
        parameters=(
            ToolParameter(
                name="timestamp",
                label=_label("Timestamp", "时间戳"),
                type="number",
                required=True,
                human_description=_label("Timestamp", "时间戳"),
            ),
            ToolParameter(
                name="timezone",
                label=_label("Timezone", "时区"),
                default="Asia/Shanghai",
                human_description=_label("Timezone, such as Asia/Shanghai", "时区，比如 Asia/Shanghai"),  # noqa: RUF001
            ),
        ),
    )

    async def invoke(self, parameters: Mapping[str, Any], ctx: ToolContext) -> AsyncIterator[ToolMessage]:
        timestamp = parameters.get("timestamp")
        zone = _optional_zone(parameters.get("timezone", "Asia/Shanghai"))
        try:
            local = datetime.fromtimestamp(timestamp, zone or datetime.now().astimezone().tzinfo)  # type: ignore[arg-type]
        except (TypeError, ValueError, OverflowError, OSError) as exc:
            raise ToolInvokeError(str(exc)) from None
        yield text_message(local.strftime(TIME_FORMAT))


PROVIDER = BuiltinProvider(
    name="time",
    author="Dify",
    label=_label("CurrentTime", "时间"),
    description=_label("A tool for getting the current time.", "一个用于获取当前时间的工具。"),
    icon="time.svg",
    tags=("utilities",),
    tools=(
        CurrentTimeTool(),
        WeekdayTool(),
        TimezoneConversionTool(),
        LocaltimeToTimestampTool(),
        TimestampToLocaltimeTool(),
    ),
)
