"""Run one management command for bench/scale and write its figures as JSON.

python -m bench.scale_command OUT.json COMMAND [ARGS...]

The environment (DATABASE_URL, ...) comes from bench/scale. Writes: seconds
(wall time of call_command), exit (0, or the SystemExit code), peak_mib (growth
of this process's maximum RSS over django.setup(), ru_maxrss being in KiB on
Linux), queries, and the tail of the command's output."""

from __future__ import annotations

import io
import json
import resource
import sys
import time


def main() -> None:
    out, name, *argv = sys.argv[1:]
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    connection.ensure_connection()
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    queries = [0]

    def counting(execute, sql, params, many, context):
        queries[0] += 1
        return execute(sql, params, many, context)

    stdout, stderr = io.StringIO(), io.StringIO()
    code = 0
    started = time.perf_counter()
    try:
        with connection.execute_wrapper(counting):
            call_command(name, *argv, stdout=stdout, stderr=stderr)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with open(out, "w") as fh:
        json.dump(
            {
                "seconds": seconds,
                "exit": code,
                "peak_mib": round((peak - base) / 1024, 1),
                "queries": queries[0],
                "output": (stdout.getvalue() + stderr.getvalue())[-2000:],
            },
            fh,
        )


if __name__ == "__main__":
    main()
