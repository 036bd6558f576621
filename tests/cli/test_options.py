"""Configuration: design.md §2 (env + Go/GNU flags, one line per problem, no secret leaks)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from trio_smartmeter.cli.options import (
    OPTIONS,
    ConfigError,
    HelpRequested,
    Simulator,
    VersionRequested,
    help_text,
    load_config,
)
from trio_smartmeter.core.config import Config, ListenAddress, SerialDevice, SimulatedDevice
from trio_smartmeter.core.secret import Secret

RBID = "0123456789ABCDEF0123456789ABCDEF"  # 32
PWD = "Pa55w0rdXyZq"  # 12
ENV = {"SMARTMETER_ID": RBID, "SMARTMETER_PASSWORD": PWD, "HOME": "/home/pi"}
SIM_DEFAULTS = {"id": "00112233445566778899AABBCCDDEEFF", "password": "0123456789AB"}
MODELS = ("bp35a1", "rl7023-ips", "bp35c2", "rl7023-dss")


def sim_facts() -> Simulator:  # what the CLI injects (cli/simulator.py)
    return Simulator(MODELS, "bp35a1", SIM_DEFAULTS["id"], SIM_DEFAULTS["password"])


def problems(
    argv: list[str], environ: dict[str, str], simulator: Callable[[], Simulator] | None = sim_facts
) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(argv, environ, simulator=simulator)
    text = str(info.value)
    for p in info.value.problems:
        assert "\n" not in p
        assert p in text
    return info.value.problems


def test_defaults() -> None:
    cfg = load_config([], ENV)
    assert cfg.id == Secret(RBID)
    assert cfg.password.reveal() == PWD
    assert cfg.device == SerialDevice("/dev/ttyACM0")
    assert cfg.interval == 60
    assert cfg.port == 9102
    assert cfg.channel is None
    assert cfg.ipaddr is None
    assert cfg.dse == "auto"  # NOT true like the Go seed
    assert cfg.verbosity == 1
    assert cfg.log_format == "text"
    assert cfg.listen_address == (ListenAddress("::"),)
    assert cfg.state_file == Path("/home/pi/.local/state/trio-smartmeter/state.json")
    assert cfg.demo is False
    assert RBID not in repr(cfg)
    assert PWD not in repr(cfg)


def test_xdg_state_home() -> None:
    cfg = load_config([], {**ENV, "XDG_STATE_HOME": "/var/state"})
    assert cfg.state_file == Path("/var/state/trio-smartmeter/state.json")
    cfg = load_config([], {**ENV, "XDG_STATE_HOME": "relative"})  # ignored per the XDG spec
    assert cfg.state_file == Path("/home/pi/.local/state/trio-smartmeter/state.json")
    cfg = load_config(["-state-file", "~/s.json"], ENV)
    assert cfg.state_file == Path("/home/pi/s.json")


def test_the_simulator_caches_its_meter_apart_from_the_real_stick() -> None:
    # A demo run must not leave the simulated meter's address for the real stick to try.
    cfg = load_config(["--demo"], ENV, simulator=sim_facts)
    assert cfg.state_file == Path("/home/pi/.local/state/trio-smartmeter/state-sim.json")
    cfg = load_config(
        ["-device", "sim:bp35c2"], {**ENV, "XDG_STATE_HOME": "/var/state"}, simulator=sim_facts
    )
    assert cfg.state_file == Path("/var/state/trio-smartmeter/state-sim.json")
    cfg = load_config(
        ["-device", "sim:bp35c2", "-state-file", "/tmp/x.json"], ENV, simulator=sim_facts
    )
    assert cfg.state_file == Path("/tmp/x.json")


def test_every_variable_from_env() -> None:
    cfg = load_config(
        [],
        {
            **ENV,
            "SMARTMETER_DEVICE": "/dev/ttyUSB0",
            "SMARTMETER_INTERVAL": "30",
            "SMARTMETER_PORT": "9200",
            "SMARTMETER_CHANNEL": "0x3b",
            "SMARTMETER_IPADDR": "fe80::21c:6400:3dd:6393",
            "SMARTMETER_DSE": "YES",
            "SMARTMETER_VERBOSITY": "3",
            "SMARTMETER_LOG_FORMAT": "JSON",
            "SMARTMETER_LISTEN_ADDRESS": "[::1]",
            "SMARTMETER_STATE_FILE": "/tmp/x.json",
        },
    )
    assert cfg.device == SerialDevice("/dev/ttyUSB0")
    assert cfg.interval == 30
    assert cfg.port == 9200
    assert cfg.channel == 0x3B
    assert cfg.ipaddr == "FE80:0000:0000:0000:021C:6400:03DD:6393"
    assert cfg.dse is True
    assert cfg.verbosity == 3
    assert cfg.log_format == "json"
    assert cfg.listen_address == (ListenAddress("::1"),)
    assert cfg.state_file == Path("/tmp/x.json")


@pytest.mark.parametrize(
    "argv",
    [
        ["-interval", "30"],
        ["-interval=30"],
        ["--interval", "30"],
        ["--interval=30"],
    ],
)
def test_flag_styles(argv: list[str]) -> None:
    assert load_config(argv, ENV).interval == 30


def test_all_flags() -> None:
    cfg = load_config(
        [
            "-id",
            RBID,
            "--password=" + PWD,
            "-device=/dev/ttyUSB1",
            "--port",
            "9999",
            "-channel",
            "21",
            "--ipaddr",
            "FE80::1",
            "-dse=false",
            "-verbosity",
            "0",
            "--log-format",
            "json",
            "-log_format=text",
            "--listen-address",
            "127.0.0.1",
            "-state-file",
            "/srv/s.json",
        ],
        {"HOME": "/root"},
    )
    assert cfg.id.reveal() == RBID
    assert cfg.password.reveal() == PWD
    assert cfg.device == SerialDevice("/dev/ttyUSB1")
    assert cfg.port == 9999
    assert cfg.channel == 0x21
    assert cfg.ipaddr == "FE80:0000:0000:0000:0000:0000:0000:0001"
    assert cfg.dse is False
    assert cfg.verbosity == 0
    assert cfg.log_format == "text"  # the last repeated flag wins, as in Go
    assert cfg.listen_address == (ListenAddress("127.0.0.1"),)
    assert cfg.state_file == Path("/srv/s.json")


def test_flags_win_over_env() -> None:
    env = {**ENV, "SMARTMETER_INTERVAL": "abc", "SMARTMETER_PORT": "1000"}
    cfg = load_config(["-interval", "15", "--port=2000"], env)
    assert (cfg.interval, cfg.port) == (15, 2000)


def test_bare_dse_flag_is_true_like_go() -> None:
    assert load_config(["-dse"], ENV).dse is True
    assert load_config(["-dse", "-port", "1"], ENV).dse is True
    assert load_config(["-dse", "no"], ENV).dse is False
    assert load_config(["--dse=auto"], ENV).dse == "auto"
    assert load_config([], {**ENV, "SMARTMETER_DSE": "0"}).dse is False


def test_empty_env_means_unset() -> None:
    cfg = load_config([], {**ENV, "SMARTMETER_CHANNEL": "", "SMARTMETER_IPADDR": ""})
    assert cfg.channel is None
    assert cfg.ipaddr is None


@pytest.mark.parametrize(
    ("text", "host", "port"),
    [
        ("0.0.0.0", "0.0.0.0", None),
        ("::", "::", None),
        ("pi.local", "pi.local", None),
        ("::1", "::1", None),  # more than one colon: an IPv6 address alone
        ("[::1]", "::1", None),
        ("[::1]:9200", "::1", 9200),
        ("127.0.0.1:9200", "127.0.0.1", 9200),
        (":9100", "::", 9100),  # node_exporter's --web.listen-address=:9100
    ],
)
def test_listen_address_forms(text: str, host: str, port: int | None) -> None:
    cfg = load_config(["-listen-address", text], ENV)
    assert cfg.listen_address == (ListenAddress(host, port),)
    assert cfg.listen_binds() == [(host, port or cfg.port)]


def test_listen_address_repeated_or_comma_separated() -> None:
    """IPv4 and IPv6 at once: the flag repeated (node_exporter) or the variable a list."""
    both = (ListenAddress("127.0.0.1"), ListenAddress("::1", 9200))
    flags = ["-listen-address", "127.0.0.1", "--listen-address=[::1]:9200"]
    assert load_config(flags, ENV).listen_address == both
    env = {**ENV, "SMARTMETER_LISTEN_ADDRESS": "127.0.0.1, [::1]:9200"}
    assert load_config(["-port", "9300"], env).listen_binds() == [
        ("127.0.0.1", 9300),
        ("::1", 9200),
    ]
    # the flags replace the variable's list, they do not add to it
    assert load_config(["-listen-address", "::1"], env).listen_address == (ListenAddress("::1"),)


@pytest.mark.parametrize("text", ["a:b", "[::1]x", "1.2.3.4:0", ":", "[::1]:", "x,,y", "::1%lo"])
def test_bad_listen_addresses_name_the_accepted_forms(text: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(["-listen-address", text], ENV)
    (problem,) = err.value.problems
    assert problem.startswith(
        f"flag -listen-address (SMARTMETER_LISTEN_ADDRESS): invalid value {text!r}"
    )
    assert "host:port" in problem


@pytest.mark.parametrize(
    ("listen", "says"),
    [
        (["::", "127.0.0.1"], ":: already listens on 127.0.0.1 (port 9102)"),
        (["0.0.0.0", "127.0.0.1:9102"], "0.0.0.0 already listens on 127.0.0.1 (port 9102)"),
    ],
)
def test_an_address_covered_by_all_interfaces_is_refused(listen: list[str], says: str) -> None:
    """The second bind would fail as "port in use", naming the wrong cause."""
    argv = [word for address in listen for word in ("-listen-address", address)]
    with pytest.raises(ConfigError) as err:
        load_config(argv, ENV)
    (problem,) = err.value.problems
    assert says in problem


def test_all_interfaces_beside_another_port_or_family_is_fine() -> None:
    both = ["-listen-address", "0.0.0.0", "-listen-address", "::1"]  # 0.0.0.0 is IPv4 only
    assert len(load_config(both, ENV).listen_address) == 2
    ports = ["-listen-address", "::", "-listen-address", "127.0.0.1:9200"]
    assert len(load_config(ports, ENV).listen_address) == 2


def test_web_systemd_socket_is_a_bool_flag() -> None:
    assert load_config([], ENV).web_systemd_socket is False
    assert load_config(["-web-systemd-socket"], ENV).web_systemd_socket is True
    env = {**ENV, "SMARTMETER_WEB_SYSTEMD_SOCKET": "true"}
    assert load_config([], env).web_systemd_socket is True


def test_sim_device_uses_demo_credentials() -> None:
    cfg = load_config(["-device", "sim:BP35A1"], {}, simulator=sim_facts)
    assert cfg.device == SimulatedDevice("bp35a1")
    assert cfg.id.reveal() == SIM_DEFAULTS["id"]
    assert cfg.password.reveal() == SIM_DEFAULTS["password"]
    # explicit credentials still win
    cfg = load_config(["-device", "sim:rl7023-dss"], ENV, simulator=sim_facts)
    assert cfg.id.reveal() == RBID


def test_real_device_ignores_sim_defaults() -> None:
    found = problems_with_defaults(["-device", "/dev/ttyUSB0"])
    assert any("SMARTMETER_ID" in p and "required" in p for p in found)
    assert any("SMARTMETER_PASSWORD" in p and "required" in p for p in found)


def problems_with_defaults(argv: list[str]) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(argv, {}, simulator=sim_facts)
    return info.value.problems


def test_demo_flag() -> None:
    cfg = load_config(["--demo"], {}, simulator=sim_facts)
    assert cfg.demo is True
    assert cfg.device == SimulatedDevice("bp35a1")
    cfg = load_config(["--demo", "-device", "sim:bp35a1"], {}, simulator=sim_facts)
    assert cfg.device == SimulatedDevice("bp35a1")
    found = problems_with_defaults(["--demo", "-device", "/dev/ttyUSB0"])
    assert any("-device" in p and "simulator" in p for p in found)


def test_require_credentials_false() -> None:
    cfg = load_config([], {}, require_credentials=False)
    assert not cfg.id
    assert not cfg.password


def test_help_and_version() -> None:
    with pytest.raises(HelpRequested) as info:
        load_config(["-h"], {})
    assert info.value.text == help_text()
    with pytest.raises(HelpRequested):
        load_config(["--interval", "3", "--help"], {"SMARTMETER_BOGUS": "1"})
    with pytest.raises(VersionRequested):
        load_config(["--version"], {})


def test_help_lists_every_option() -> None:
    text = help_text()
    for o in OPTIONS:
        assert f"-{o.flag}" in text
        assert o.env in text
        assert f"(default: {o.default})" in text
    assert "9102" in text
    assert "/dev/ttyACM0" in text


SECRET_VALUES = [RBID, PWD, "short-id", "pw-too-long-1234", "X" * 31]

INVALID = [
    # (argv, env overrides, names that must appear in one problem, value shown)
    ([], {"SMARTMETER_ID": None}, ["SMARTMETER_ID", "-id", "required"], None),
    ([], {"SMARTMETER_PASSWORD": None}, ["SMARTMETER_PASSWORD", "-password", "required"], None),
    ([], {"SMARTMETER_ID": "short-id"}, ["SMARTMETER_ID", "hidden, 8 characters", "32"], None),
    (["-id", "X" * 31], {}, ["flag -id", "hidden, 31 characters"], None),
    (
        [],
        {"SMARTMETER_PASSWORD": "pw-too-long-1234"},
        ["SMARTMETER_PASSWORD", "hidden, 16 characters", "12"],
        None,
    ),
    ([], {"SMARTMETER_PASSWORD": "pass word 12"}, ["SMARTMETER_PASSWORD", "printable"], None),
    ([], {"SMARTMETER_INTERVAL": "5"}, ["SMARTMETER_INTERVAL", "-interval", ">= 10"], "'5'"),
    ([], {"SMARTMETER_INTERVAL": "abc"}, ["SMARTMETER_INTERVAL"], "'abc'"),
    (["-interval", "1.5"], {}, ["flag -interval", "SMARTMETER_INTERVAL"], "'1.5'"),
    (["--port=0"], {}, ["flag -port", "1-65535"], "'0'"),
    ([], {"SMARTMETER_PORT": "70000"}, ["SMARTMETER_PORT"], "'70000'"),
    ([], {"SMARTMETER_CHANNEL": "20"}, ["SMARTMETER_CHANNEL", "21-3C"], "'20'"),
    ([], {"SMARTMETER_CHANNEL": "3D"}, ["SMARTMETER_CHANNEL"], "'3D'"),
    (["-channel", "zz"], {}, ["flag -channel"], "'zz'"),
    ([], {"SMARTMETER_IPADDR": "not-an-ip"}, ["SMARTMETER_IPADDR", "link-local"], "'not-an-ip'"),
    ([], {"SMARTMETER_IPADDR": "2001:db8::1"}, ["SMARTMETER_IPADDR"], "'2001:db8::1'"),
    ([], {"SMARTMETER_IPADDR": "192.168.1.1"}, ["SMARTMETER_IPADDR"], "'192.168.1.1'"),
    ([], {"SMARTMETER_DSE": "maybe"}, ["SMARTMETER_DSE", "true/false"], "'maybe'"),
    ([], {"SMARTMETER_VERBOSITY": "loud"}, ["SMARTMETER_VERBOSITY", "2 or more"], "'loud'"),
    (["-log-format", "xml"], {}, ["flag -log-format", "text or json"], "'xml'"),
    ([], {"SMARTMETER_LISTEN_ADDRESS": "bad host!"}, ["SMARTMETER_LISTEN_ADDRESS"], "'bad host!'"),
    ([], {"SMARTMETER_DEVICE": "sim:nope"}, ["SMARTMETER_DEVICE", "bp35a1"], "'sim:nope'"),
    ([], {"SMARTMETER_DEVICE": " "}, ["SMARTMETER_DEVICE", "serial device path"], "' '"),
    ([], {"SMARTMETER_FOO": "1"}, ["unknown variable SMARTMETER_FOO", "SMARTMETER_ID"], None),
    (["--bogus", "1"], {}, ["unknown flag -bogus", "-interval"], None),
    (["-port"], {}, ["flag -port", "needs a value"], None),
    (["stray"], {}, ["unexpected argument 'stray'"], None),
]


@pytest.mark.parametrize(("argv", "env", "needles", "shown"), INVALID)
def test_invalid(
    argv: list[str], env: dict[str, str | None], needles: list[str], shown: str | None
) -> None:
    merged: dict[str, str | None] = {**ENV, **env}
    environ = {k: v for k, v in merged.items() if v is not None}
    with pytest.raises(ConfigError) as info:
        load_config(argv, environ, simulator=sim_facts)
    found = info.value.problems
    assert len(found) == 1, found
    for needle in needles:
        assert needle in found[0], (needle, found[0])
    if shown is not None:
        assert shown in found[0]
    text = "\n".join(found)
    for secret in SECRET_VALUES:
        assert secret not in text


def test_all_problems_are_collected() -> None:
    found = problems(
        ["-port", "0", "--verbosity=high", "--nope"],
        {"SMARTMETER_INTERVAL": "5", "SMARTMETER_DSE": "maybe", "SMARTMETER_TYPO": "x"},
    )
    joined = "\n".join(found)
    for needle in (
        "-port",
        "-verbosity",
        "-nope",
        "SMARTMETER_INTERVAL",
        "SMARTMETER_DSE",
        "SMARTMETER_TYPO",
        "SMARTMETER_ID",
        "SMARTMETER_PASSWORD",
    ):
        assert needle in joined
    assert len(found) == 8


def test_secret_values_never_in_error() -> None:
    bad_id = "sEcReT-iD-that-is-not-32-chars"
    bad_pw = "s3cr3t!"
    with pytest.raises(ConfigError) as info:
        load_config(["-password", bad_pw], {"SMARTMETER_ID": bad_id, "SMARTMETER_PORT": "x"})
    text = str(info.value) + repr(info.value) + repr(info.value.problems)
    assert bad_id not in text
    assert bad_pw not in text
    assert "hidden, 30 characters" in text
    assert "hidden, 7 characters" in text


def test_config_is_frozen() -> None:
    cfg = load_config([], ENV)
    assert isinstance(cfg, Config)
    with pytest.raises(AttributeError):
        cfg.port = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    "argv",
    [
        ["-interval", "20", "-interval", "30"],
        ["--interval=20", "-interval=30"],
        ["-interval", "abc", "--interval", "30"],  # an overridden bad value is no problem
        ["-log_format=json", "--log-format", "text", "-interval=30"],
    ],
)
def test_repeated_flag_last_wins(argv: list[str]) -> None:
    cfg = load_config(argv, ENV)
    assert cfg.interval == 30
    assert cfg.log_format == "text"


def test_one_line_per_problem() -> None:
    found = problems(
        ["-port", "0", "-channel=zz", "--verbosity", "-1", "-log_format", "xml"],
        {**ENV, "SMARTMETER_INTERVAL": "5", "SMARTMETER_IPADDR": "2001:db8::1"},
    )
    assert len(found) == 6, found
    for flag, shown in (
        ("-port", "'0'"),
        ("-channel", "'zz'"),
        ("-verbosity", "'-1'"),
        ("-log-format", "'xml'"),
        ("SMARTMETER_INTERVAL", "'5'"),
        ("SMARTMETER_IPADDR", "'2001:db8::1'"),
    ):
        (line,) = [p for p in found if flag in p]
        assert shown in line
        assert "expected" in line


def test_go_value_flags_take_the_next_word() -> None:
    # Go's rule: a value flag takes the next word even when it starts with "-"; a password
    # must never come back as an "unknown flag"
    secret = "-Xy123456789"
    found = problems(["-password", secret, "-port", "-interval"], ENV)
    assert len(found) == 1
    assert "flag -port" in found[0]
    assert "'-interval'" in found[0]
    assert load_config(["-password", secret], ENV).password.reveal() == secret
    found = problems(["--password", "-short"], ENV)
    assert found == [p for p in found if "hidden, 6 characters" in p]
    assert "-short" not in "\n".join(found)


def test_bool_flags_take_only_their_own_words() -> None:
    assert load_config(["-demo=false"], ENV).demo is False
    assert load_config(["--demo=yes"], {}, simulator=sim_facts).demo is True
    (found,) = problems(["-demo", "false"], ENV)
    assert "unexpected argument 'false'" in found
    (found,) = problems(["-dse", "stray"], ENV)
    assert "unexpected argument 'stray'" in found
    assert load_config(["-dse", "AUTO"], ENV).dse == "auto"
    (found,) = problems(["-dse=maybe"], ENV)
    assert "flag -dse" in found
    assert "'maybe'" in found


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["-int", "30"], "unknown flag -int"),  # no abbreviations, single dash or double
        (["--int=30"], "unknown flag -int"),
        (["-hx"], "unknown flag -hx"),
        (["-interval30"], "unknown flag -interval30"),
        (["-", "-port", "1"], "unexpected argument '-'"),
        (["--", "-port", "1"], "unexpected argument '-port'"),
        (["--help=x"], "-h"),
    ],
)
def test_flags_match_by_full_name(argv: list[str], needle: str) -> None:
    found = problems(argv, ENV)
    assert any(needle in p for p in found), found


@pytest.mark.parametrize("level", ["2", "3", "4", "9"])
def test_any_verbosity_from_2_is_debug_like_the_seed(level: str) -> None:
    """The seed: "2 以上: デバッグ"; 3 and above also log every serial line."""
    from trio_smartmeter.cli.log import level_for

    cfg = load_config([], {**ENV, "SMARTMETER_VERBOSITY": level})
    assert cfg.verbosity == int(level)
    assert level_for(cfg.verbosity) == level_for(min(cfg.verbosity, 3))


def test_a_sim_device_without_the_simulator_is_a_problem() -> None:
    (found,) = problems(["-device", "sim:bp35a1"], ENV, simulator=None)
    assert "simulator" in found


def test_help_lists_the_simulators_models() -> None:
    with pytest.raises(HelpRequested) as info:
        load_config(["-h"], {}, simulator=sim_facts)
    assert ", ".join(MODELS) in info.value.text


def test_the_history_clients_password_variable_is_not_an_unknown_one() -> None:
    """``history --url`` reads SMARTMETER_WEB_PASSWORD; an exporter sharing its .env file
    must not refuse it as a typo (nor take it as an option)."""
    cfg = load_config([], {**ENV, "SMARTMETER_WEB_PASSWORD": "hunter2"})
    assert "hunter2" not in repr(cfg)


def test_a_tariff_file_is_checked_at_start_one_problem_a_line_naming_the_key(
    tmp_path: Path,
) -> None:
    good = tmp_path / "good.yaml"
    good.write_text("billing_day: 15\nbasic: {monthly: 0}\nenergy: {tiers: [{price: 10}]}\n")
    cfg = load_config(["-tariff-file", str(good)], SIM_DEFAULTS_ENV)
    assert cfg.tariff_file == good
    assert load_config([], SIM_DEFAULTS_ENV).tariff_file is None  # nothing of the bill
    bad = tmp_path / "bad.yaml"
    bad.write_text("billing_day: 31\nbasic: {monthly: 0}\nenergy: {tiers: [{price: x}]}\n")
    found = problems([], {**SIM_DEFAULTS_ENV, "SMARTMETER_TARIFF_FILE": str(bad)})
    assert len(found) == 2
    assert all(p.startswith(f"SMARTMETER_TARIFF_FILE (flag -tariff-file) {bad}: ") for p in found)
    assert any("billing_day" in p for p in found)
    assert any("energy.tiers" in p for p in found)
    (missing,) = problems(["-tariff-file", str(tmp_path / "absent.yaml")], SIM_DEFAULTS_ENV)
    assert "cannot read the file" in missing


SIM_DEFAULTS_ENV = {
    "SMARTMETER_ID": SIM_DEFAULTS["id"],
    "SMARTMETER_PASSWORD": SIM_DEFAULTS["password"],
    "SMARTMETER_DEVICE": "/dev/ttyUSB0",
}
