"""The command table is the command set protocol.md documents, per module family."""

from __future__ import annotations

import pytest

from trio_smartmeter.sim import MODELS, open_in_process
from trio_smartmeter.sim.commands import command_table

from .host import Host

#: protocol.md §2, on every family
SKSTACK = {
    "SKVER", "SKAPPVER", "SKINFO", "SKRESET", "SKSREG", "SKSETRBID", "SKSETPWD", "SKSCAN",
    "SKLL64", "SKJOIN", "SKREJOIN", "SKTERM", "SKSENDTO", "SKTABLE", "SKSAVE", "SKLOAD",
    "SKERASE",
}  # fmt: skip
#: protocol.md §1.2 and §10: ROHM modules only, FAIL ER04 on RL7023 sticks
PRODUCT = {"WOPT", "ROPT", "WUART", "RUART"}
#: documented, but "not needed" / "do not touch": the simulator answers FAIL ER04
NOT_EMULATED = {"SKLOAD", "SKERASE", "WUART", "RUART"}


@pytest.mark.parametrize("model", sorted(MODELS))
def test_table_lists_the_documented_commands_of_the_family(model):
    spec = MODELS[model]
    documented = SKSTACK | (PRODUCT if spec.rohm else set())
    assert set(command_table(spec)) == documented - NOT_EMULATED


@pytest.mark.parametrize("model", sorted(MODELS))
async def test_anything_else_answers_fail_er04(autojump_clock, watchdog, nursery, model):
    stream, module = await open_in_process(nursery, model)
    host = Host(stream)
    for line in ["SKFOO", "skver", "SkVer", "SKVER2", "SKLOAD", "SKERASE"]:
        await host.cmd(line)
        assert await host.lines(2) == [line, "FAIL ER04"]
    unanswered = PRODUCT - set(command_table(module.spec))
    assert unanswered == ({"WUART", "RUART"} if module.spec.rohm else PRODUCT)
    for name in sorted(unanswered):
        await host.send(f"{name}\r")
        assert await host.raw_line(cr_only=True) == f"{name}\r".encode()  # CR-only echo
        assert await host.line() == "FAIL ER04"
    await host.quiet()
