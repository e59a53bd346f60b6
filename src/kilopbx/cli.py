"""The `kilopbx` command: serve, api-credentials, unlock-ip."""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import logging
import signal
import sys
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from kilopbx.config import ConfigError, Settings, load_settings
from kilopbx.descriptors import raise_open_files_limit
from kilopbx.heap import settle


def _settings(args: argparse.Namespace) -> Settings:
    try:
        return load_settings(Path(args.config) if args.config else None)
    except ConfigError as exc:
        print(f"kilopbx: {exc}", file=sys.stderr)
        raise SystemExit(2) from exc


def _run(coro: Coroutine[Any, Any, None]) -> None:
    """Run on uvloop (ARCHITECTURE.md: the default loop tops out far lower for UDP)."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency; stay usable without
        asyncio.run(coro)
        return
    uvloop.run(coro)


async def _serve(settings: Settings, profile: str | None = None) -> None:
    from kilopbx.pbx import Pbx

    loop_kind = type(asyncio.get_running_loop())
    logger = logging.getLogger("kilopbx")
    logger.info("event loop: %s.%s", loop_kind.__module__, loop_kind.__name__)
    raise_open_files_limit()
    pbx = Pbx(settings)
    budget = pbx.descriptors
    logger.info(
        "open files limit %d: up to %d API and %d SIP/TCP connections",
        budget.open_files,
        budget.api_connections,
        budget.sip_tcp_connections,
    )
    try:
        await pbx.start()
    except OSError as exc:  # a port in use, a data directory we may not write, ...
        await pbx.stop()
        print(f"kilopbx: {exc.strerror or exc}", file=sys.stderr)
        raise SystemExit(1) from None
    except ConfigError as exc:  # a feature's own settings (environment, TOML table)
        await pbx.stop()
        print(f"kilopbx: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    if pbx.generated_password:
        # shown once; `kilopbx api-credentials` shows it again
        print(
            f"KiloPBX API user {settings.api_username!r}, generated password "
            f"{pbx.api_password!r} (kept in {settings.data_dir})",
            flush=True,
        )
    frozen = settle()
    logger.info("start-up heap frozen: %d objects", frozen)
    print(
        f"KiloPBX serving: API http(s)://{settings.bind}:{pbx.http_port}/api/v2.0.0/",
        flush=True,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    profiler = _profiler() if profile else None
    await stop.wait()
    if profiler is not None and profile:
        profiler.disable()
        profiler.dump_stats(profile)
    await pbx.stop()


def _profiler() -> cProfile.Profile:
    """A development aid (``serve --profile FILE``): cProfile of the event loop's thread
    from "serving" to the stop signal, for the benchmarks' call-path profiles. It counts
    the thread's CPU time: wall time would charge a system call with the time the
    process waited after it woke a media worker (niced above it) on the same core."""
    profiler = cProfile.Profile(time.thread_time)
    profiler.enable()
    return profiler


async def _credentials(settings: Settings) -> None:
    from kilopbx.pbx import Pbx

    pbx = Pbx(settings)
    await pbx.open_store()
    password = settings.api_password or await pbx.settings_repo.get("api_password")
    await pbx.engine.dispose()
    if password is None:
        print("no API password yet: start `kilopbx serve` once", file=sys.stderr)
        raise SystemExit(1)
    print(f"username: {settings.api_username}\npassword: {password}")


async def _unlock(settings: Settings, ip: str) -> None:
    from kilopbx.api.lockout import unlock
    from kilopbx.pbx import Pbx

    pbx = Pbx(settings)
    await pbx.open_store()
    lifted = await unlock(pbx.db, ip)
    await pbx.engine.dispose()
    print(f"{ip}: {'unlocked' if lifted else 'was not blocked'}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="kilopbx", description="KiloPBX IP PBX")
    parser.add_argument("--config", help="TOML configuration file")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the PBX")
    serve.add_argument("--config", help="TOML configuration file", default=argparse.SUPPRESS)
    serve.add_argument(
        "--profile", metavar="FILE", help="development: write cProfile stats at stop"
    )
    creds = sub.add_parser("api-credentials", help="show the API username and password")
    creds.add_argument("--config", default=argparse.SUPPRESS)
    unlock = sub.add_parser("unlock-ip", help="lift an API login lockout")
    unlock.add_argument("ip")
    unlock.add_argument("--config", default=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    settings = _settings(args)
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # Alembic announces its plugins at INFO on import; only its problems matter here
    logging.getLogger("alembic").setLevel(logging.WARNING)
    if args.command == "serve":
        _run(_serve(settings, args.profile))
    elif args.command == "api-credentials":
        _run(_credentials(settings))
    elif args.command == "unlock-ip":
        _run(_unlock(settings, args.ip))


if __name__ == "__main__":
    main()
