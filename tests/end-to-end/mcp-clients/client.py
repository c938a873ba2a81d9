"""A real MCP client for the mcp suite: the official Python SDK (`mcp` on PyPI) over Streamable HTTP.

Usage: client.py SCENARIO URL MODE [ARGS_JSON]
  MODE is "2026-07-28" (the stateless revision) or "legacy" (the initialize handshake at 2025-11-25).
  The bearer credential comes from the MCP_TEST_AUTHORIZATION environment variable (never argv).

Each scenario prints JSON lines on stdout that the Rust test reads; a line {"ready": ...} tells the
test the client is waiting for it, and the test answers on stdin where a scenario needs it.

Scenarios:
  list      initialize, list every tool (following pages): {"protocol": v, "tools": [{name, description, schema}]}
  call      call ARGS_JSON = {"name", "arguments"}: {"is_error", "text", "structured"}
  calls     call ARGS_JSON = {"name", "arguments", "times"} in sequence: a list of the above
  cancel    call ARGS_JSON = {...} in a task, print {"ready": "calling"}, wait for a stdin line, cancel it,
            print {"cancelled": true}
  progress  call ARGS_JSON = {...} with a progress callback; prints {"progress": n} per report, then the result
  changes   wait for notifications/tools/list_changed: print {"ready": "listening"}, then {"list_changed": true}
            and the tool names listed again after it
"""

import json
import os
import sys

import anyio
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client


def emit(value):
    print(json.dumps(value), flush=True)


def result_json(result):
    text = "".join(block.text for block in result.content if getattr(block, "type", None) == "text")
    return {"is_error": bool(result.is_error), "text": text, "structured": result.structured_content}


def client(url, mode, **kwargs):
    headers = {}
    if os.environ.get("MCP_TEST_AUTHORIZATION"):
        headers["Authorization"] = os.environ["MCP_TEST_AUTHORIZATION"]
    http = create_mcp_http_client(headers=headers)
    return Client(streamable_http_client(url, http_client=http), mode=mode, cache=None, **kwargs)


async def list_all(c):
    tools, cursor = [], None
    while True:
        page = await c.list_tools(cursor=cursor) if cursor else await c.list_tools()
        tools.extend(page.tools)
        cursor = page.next_cursor
        if not cursor:
            return tools


async def main():
    scenario, url, mode = sys.argv[1], sys.argv[2], sys.argv[3]
    args = json.loads(sys.argv[4]) if len(sys.argv) > 4 else {}

    if scenario == "changes":
        changed = anyio.Event()

        async def on_message(message):
            method = getattr(getattr(message, "root", message), "method", None)
            if method == "notifications/tools/list_changed":
                changed.set()

        async with client(url, mode, message_handler=on_message) as c:
            if mode == "legacy":
                # The session's GET stream carries notifications: a first request opens the session.
                await list_all(c)
                emit({"ready": "listening"})
                with anyio.fail_after(60):
                    await changed.wait()
            else:
                async with c.listen(tools_list_changed=True) as subscription:
                    emit({"ready": "listening"})
                    with anyio.fail_after(60):
                        async for _event in subscription:
                            break
            emit({"list_changed": True, "tools": [t.name for t in await list_all(c)]})
        return

    async with client(url, mode) as c:
        if scenario == "list":
            tools = await list_all(c)
            emit({
                "protocol": c.protocol_version,
                "tools": [{"name": t.name, "description": t.description, "schema": t.input_schema} for t in tools],
            })
        elif scenario == "call":
            emit(result_json(await c.call_tool(args["name"], args.get("arguments", {}))))
        elif scenario == "calls":
            results = []
            for _ in range(args["times"]):
                results.append(result_json(await c.call_tool(args["name"], args.get("arguments", {}))))
            emit(results)
        elif scenario == "progress":
            async def on_progress(progress, total, message):
                emit({"progress": progress, "message": message})

            emit(result_json(await c.call_tool(args["name"], args.get("arguments", {}), progress_callback=on_progress)))
        elif scenario == "cancel":
            async with anyio.create_task_group() as group:
                async def call():
                    await c.call_tool(args["name"], args.get("arguments", {}))
                    emit({"finished": True})

                group.start_soon(call)
                emit({"ready": "calling"})
                await anyio.to_thread.run_sync(sys.stdin.readline)
                group.cancel_scope.cancel()
            emit({"cancelled": True})
        else:
            raise SystemExit(f"unknown scenario {scenario!r}")


if __name__ == "__main__":
    try:
        anyio.run(main)
    except Exception as error:  # the test reads the failure from stdout, with its type
        emit({"exception": type(error).__name__, "message": str(error)})
        raise SystemExit(1)
