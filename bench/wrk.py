"""wrk, the load: a Lua script written per endpoint, one run parsed, and the CPU and
server log around each timed run.

The script pre-formats one request per (path, token), picks one at random per request,
counts every response's status and empty bodies per thread, and prints one JSON line
from ``done`` (latency percentiles, requests, bytes, socket errors). CPU seconds of the
server processes, of wrk and of the rest of the machine (mostly PostgreSQL) come from
``/proc``. After each run the server drains what wrk left behind (a server that does not
within the cap is restarted), and the unhandled errors it logged meanwhile are counted.
"""

from __future__ import annotations

import json
import os
import re
import resource
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.machine import machine_busy
from bench.servers import Servers

MARKER = "DOORSTEP-WRK-JSON "

UNHANDLED = "http.unhandled_error"  # doorstep.app's log event for a 500


@dataclass(frozen=True)
class Endpoint:
    """What wrk asks for: the paths it rotates through, of which app (``server``: doorstep
    or the plain baseline), and the endpoint whose rate in the same round it is compared
    with (``baseline``)."""

    name: str
    label: str
    paths: tuple[str, ...]
    accept: str
    authenticated: bool = False
    server: str = "doorstep"
    baseline: str | None = None


LUA_TEMPLATE = """-- written by bench.http_load for one wrk run
local paths = %(paths)s
local tokens = %(tokens)s
local accept = %(accept)s
local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
  table.insert(threads, thread)
end

function init(args)
  math.randomseed((tonumber(args[1]) or 7) * 7919 + id)
  statuses = {}
  empty = 0
  responses = 0
  prepared = {}
  for _, path in ipairs(paths) do
    if #tokens == 0 then
      prepared[#prepared + 1] = wrk.format("GET", path, {["Accept"] = accept})
    else
      for _, token in ipairs(tokens) do
        prepared[#prepared + 1] = wrk.format(
          "GET", path, {["Accept"] = accept, ["Authorization"] = "Bearer " .. token})
      end
    end
  end
end

function request()
  return prepared[math.random(#prepared)]
end

function response(status, headers, body)
  local key = tostring(status)
  statuses[key] = (statuses[key] or 0) + 1
  responses = responses + 1
  if body == nil or #body == 0 then
    empty = empty + 1
  end
end

function done(summary, latency, requests)
  local all, empties, answered = {}, 0, 0
  for _, thread in ipairs(threads) do
    for key, n in pairs(thread:get("statuses")) do
      all[key] = (all[key] or 0) + n
    end
    empties = empties + thread:get("empty")
    answered = answered + thread:get("responses")
  end
  local parts = {}
  for key, n in pairs(all) do
    parts[#parts + 1] = string.format('"%%s":%%.0f', key, n)
  end
  local e = summary.errors
  local ok = summary.requests > 0
  io.write("%(marker)s", string.format(
    '{"duration_us":%%.0f,"requests":%%.0f,"bytes":%%.0f,' ..
    '"errors":{"connect":%%.0f,"read":%%.0f,"write":%%.0f,"status":%%.0f,"timeout":%%.0f},' ..
    '"latency_us":{"min":%%.0f,"max":%%.0f,"mean":%%.1f,"stdev":%%.1f,' ..
    '"p50":%%.0f,"p90":%%.0f,"p99":%%.0f},' ..
    '"responses":%%.0f,"empty_bodies":%%.0f,"statuses":{%%s}}',
    summary.duration, summary.requests, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    ok and latency.min or 0, ok and latency.max or 0,
    ok and latency.mean or 0, ok and latency.stdev or 0,
    ok and latency:percentile(50) or 0, ok and latency:percentile(90) or 0,
    ok and latency:percentile(99) or 0,
    answered, empties, table.concat(parts, ",")), "\\n")
end
"""


def _lua_list(values: Sequence[str]) -> str:
    return "{" + ", ".join(json.dumps(v) for v in values) + "}"


def write_script(folder: Path, endpoint: Endpoint, tokens: Sequence[str]) -> Path:
    path = folder / f"{endpoint.name}.lua"
    path.write_text(
        LUA_TEMPLATE
        % {
            "paths": _lua_list(endpoint.paths),
            "tokens": _lua_list(tokens if endpoint.authenticated else ()),
            "accept": json.dumps(endpoint.accept),
            "marker": MARKER,
        }
    )
    return path


def wrk_binary() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise RuntimeError("wrk is not installed (Debian: apt-get install wrk)")
    return found


def wrk_version(binary: str) -> str:
    done = subprocess.run([binary, "-v"], capture_output=True, text=True, check=False)
    return (done.stdout or done.stderr).splitlines()[0].strip()


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_wrk(
    *,
    binary: str,
    base: str,
    script: Path,
    connections: int,
    threads: int,
    duration_s: int,
    timeout_s: int,
    seed: int,
) -> dict[str, Any]:
    """One wrk run; the script's JSON line, parsed."""
    command = [
        binary,
        f"-t{min(threads, connections)}",
        f"-c{connections}",
        f"-d{duration_s}s",
        f"--timeout={timeout_s}s",
        f"-s{script}",
        f"{base}/",
        "--",
        str(seed),
    ]
    done = subprocess.run(
        command, capture_output=True, text=True, check=False, timeout=duration_s + timeout_s + 60
    )
    line = next((x for x in done.stdout.splitlines() if x.startswith(MARKER)), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(
            f"wrk failed (exit {done.returncode}): {done.stderr.strip() or done.stdout.strip()}"
        )
    parsed: dict[str, Any] = json.loads(line[len(MARKER) :])
    return parsed


def _level_result(raw: dict[str, Any], cpu: dict[str, float]) -> dict[str, Any]:
    seconds = raw["duration_us"] / 1e6
    statuses = {k: int(v) for k, v in sorted(raw["statuses"].items())}
    non_2xx = sum(n for code, n in statuses.items() if not code.startswith("2"))
    errors = {k: int(v) for k, v in raw["errors"].items()}
    socket_errors = errors["connect"] + errors["read"] + errors["write"] + errors["timeout"]
    latency = raw["latency_us"]
    return {
        "requests": int(raw["requests"]),
        "responses": int(raw["responses"]),
        "seconds": round(seconds, 3),
        "requests_per_s": round(raw["requests"] / seconds, 1) if seconds else 0.0,
        "bytes_per_s": round(raw["bytes"] / seconds, 1) if seconds else 0.0,
        "bytes_per_response": round(raw["bytes"] / raw["requests"], 1) if raw["requests"] else 0,
        "latency": {
            "p50_ms": round(latency["p50"] / 1000, 3),
            "p90_ms": round(latency["p90"] / 1000, 3),
            "p99_ms": round(latency["p99"] / 1000, 3),
            "max_ms": round(latency["max"] / 1000, 3),
            "mean_ms": round(latency["mean"] / 1000, 3),
        },
        "statuses": statuses,
        "non_2xx": non_2xx,
        "empty_bodies": int(raw["empty_bodies"]),
        "errors": errors,
        "socket_errors": socket_errors,
        "cpu_s": cpu,
    }


def measured_run(
    servers: Servers,
    binary: str,
    script: Path,
    connections: int,
    threads: int,
    duration_s: int,
    timeout_s: int,
    seed: int,
    drain_cap_s: float,
) -> dict[str, Any]:
    servers.read_log()  # what came before this run
    server_cpu, wrk_cpu, busy = servers.cpu_s(), _children_cpu_s(), machine_busy()
    raw = run_wrk(
        binary=binary,
        base=servers.base,
        script=script,
        connections=connections,
        threads=threads,
        duration_s=duration_s,
        timeout_s=timeout_s,
        seed=seed,
    )
    busy_after = machine_busy()
    server_s = servers.cpu_s() - server_cpu
    wrk_s = _children_cpu_s() - wrk_cpu
    share = (busy_after[0] - busy[0]) / max(busy_after[1] - busy[1], 1)
    machine_s = share * (os.cpu_count() or 1) * raw["duration_us"] / 1e6
    cpu = {
        "server_processes": round(server_s, 2),
        "wrk": round(wrk_s, 2),
        "rest_mostly_postgresql": round(max(0.0, machine_s - server_s - wrk_s), 2),
        "machine_busy_share": round(share, 3),
    }
    result = _level_result(raw, cpu)
    result["after_wrk"] = after_run(servers, drain_cap_s)
    return result


EXCEPTION_LINE = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Timeout)): ", re.MULTILINE)


def after_run(servers: Servers, drain_cap_s: float) -> dict[str, Any]:
    """Wait for the server to finish what wrk left behind; what it logged meanwhile. A
    server that does not drain within the cap is restarted, so the next run starts clean."""
    drain_s, drained = servers.drain(drain_cap_s)
    log = servers.read_log()
    if not drained:
        servers.restart()
    kinds: dict[str, int] = {}
    for name in EXCEPTION_LINE.findall(log):
        kinds[name] = kinds.get(name, 0) + 1
    return {
        "drain_s": round(drain_s, 1),
        "drained": drained,
        "server_restarted": not drained,
        "server_unhandled_errors": log.count(UNHANDLED),
        "exception_lines_logged": kinds,
    }
