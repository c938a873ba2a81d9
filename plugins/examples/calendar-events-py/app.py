"""`get_calendar_events` in Python: the calendar plugin's tool (plugins/calendar/src/events.rs) ported
back to the language of the original service, as an example of a Python plugin. It sends the same
request (`GET /calendar?start=&end=`) and returns the same text, byte for byte; the tools suite
runs it through the Rust version's tests. Production serves the Rust version."""

from typing import Annotated

from amakaflow_tool import Context, Plugin, ToolError, config, http

plugin = Plugin()


@plugin.function(
    "List the workouts scheduled on the user's calendar between two dates. The events carry IDs "
    "to reschedule or cancel them."
)
def get_calendar_events(
    ctx: Context,
    start_date: Annotated[str, "First day, in ISO format (YYYY-MM-DD)"],
    end_date: Annotated[str, "Last day, in ISO format (YYYY-MM-DD)"],
) -> str:
    if not start_date or not end_date:
        raise ToolError.validation("Missing required fields: start_date and end_date are required.")
    result = http.get(f"{config.required('calendar_url')}/calendar", params={"start": start_date, "end": end_date}).json()
    # calendar-api answers {"events": [...]} (older versions {"results": [...]}, or a bare list).
    events = result if isinstance(result, list) else result.get("events", result.get("results", []))
    if not events:
        return f"No workouts scheduled between {start_date} and {end_date}."
    lines = [f"Found {len(events)} scheduled workout(s):"]
    for i, event in enumerate(events, 1):
        title = event.get("title") or event.get("workout_title", "Workout")
        date = event.get("scheduled_date") or event.get("date", "Unknown date")
        time = event.get("scheduled_time") or event.get("time")
        event_id = event.get("id") or event.get("event_id")
        line = f"{i}. {title} - {date}"
        if time:
            line += f" at {time}"
        if event_id:
            line += f" (ID: {event_id})"
        lines.append(line)
    return "\n".join(lines)


WitWorld = plugin.world()
