"""The pty device and the `simulate` CLI, on the real clock with short deadlines."""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys

import pytest
import trio
from trio_serial import SerialStream

from trio_smartmeter.sim import Fault, SimulatedModule
from trio_smartmeter.sim.pty import serve_pty

from .host import Host

pytestmark = pytest.mark.slow


async def test_pty_serves_and_replugs_at_the_same_path(tmp_path):
    module = SimulatedModule("bp35a1", time_scale=0.01)
    link = str(tmp_path / "ttySIM")
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            send, paths = trio.open_memory_channel[str](4)
            await nursery.start(
                functools.partial(serve_pty, module, link, on_path=send.send_nowait)
            )
            first = await paths.receive()
            async with SerialStream(link, baudrate=115200) as port:
                host = Host(port)
                await host.cmd("SKVER")
                assert await host.lines(3) == ["SKVER", "EVER 1.2.10", "OK"]
                module.inject(Fault.UNPLUG, duration=20)  # 0.2 s real
                assert await port.receive_some(100) == b""
            assert not await trio.Path(link).exists()  # gone while unplugged
            replugged = await paths.receive()  # the link is in place before on_path fires
            if replugged != first:  # the kernel may reuse the pts number
                with pytest.raises(FileNotFoundError):
                    await trio.Path(first).stat()
            assert await trio.Path(link).readlink() == trio.Path(replugged)
            async with SerialStream(link, baudrate=115200) as port:
                host = Host(port)
                await host.cmd("SKVER")  # a replug is a power cycle: echo is on again
                assert await host.lines(3) == ["SKVER", "EVER 1.2.10", "OK"]
            nursery.cancel_scope.cancel()


async def test_simulate_cli_prints_device_and_writes_state(tmp_path):
    link = tmp_path / "ttySIM"
    state = tmp_path / "state.json"
    argv = [sys.executable, "-m", "trio_smartmeter.sim", "--model", "bp35c2", "--link", str(link)]
    argv += ["--time-scale", "0.01", "--state-json", str(state)]
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    with trio.fail_after(20):
        proc = await trio.lowlevel.open_process(argv, stdout=subprocess.PIPE, env=env)
        try:
            assert proc.stdout is not None
            out = b""
            while out.count(b"\n") < 5:
                chunk = await proc.stdout.receive_some(1000)
                assert chunk, out
                out += chunk
            info = dict(line.split(": ", 1) for line in out.decode().splitlines())
            assert info["device"] == str(link)
            assert info["rbid"] == "00112233445566778899AABBCCDDEEFF"
            assert info["password"] == "DEMOPASSWORD"
            async with SerialStream(str(link), baudrate=115200) as port:
                host = Host(port)
                await host.cmd("SKSREG SFE 0")
                assert await host.lines(2) == ["SKSREG SFE 0", "OK"]
                await host.cmd("SKINFO")
                assert (await host.line()).endswith(" 0")
            data = json.loads(state.read_text())
            assert data["sendto_count"] == 0 and data["skterm_seen"] is False
            proc.terminate()
            assert await proc.wait() == 0
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
            if proc.stdout is not None:
                await proc.stdout.aclose()
