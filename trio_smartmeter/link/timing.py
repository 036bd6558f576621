"""Every deadline of the link and the session, in seconds (design.md §4: every wait has one).

One value, handed to the client, the meter client and the service's session, so a test
or a slow module changes a deadline in one place. Waits that are policy (backoff, the
reopen schedule, the latch) are the ladder's (``core.recovery``), not these.
"""

from __future__ import annotations

import attrs


@attrs.frozen
class Timing:
    """Defaults follow protocol.md §5: joins take seconds but PANA retransmissions end
    after ~40 s; the module answers commands at once (a reset one after a moment: "some
    implementations wait a little after it"). A meter answers a Get within about a second
    (its frames are ~0.3 s on air); the ECHONET AIF timer (≥ 20 s) is a certification
    figure, and the wait for a lost response is what a user feels: ``response`` is
    momonga's 12 s, proven on real meters (protocol.md §5.2: "practical implementations
    use 10–20 s and retry"), so three lost responses cost ~37 s, not 60 s."""

    command: float = 5.0  # OK/FAIL of an ordinary command
    reset: float = 5.0  # SKRESET's OK at start-up
    write: float = 5.0  # one write of a command line (a tty accepts ~17 KB before blocking)
    #: A late reply to a timed-out command may still arrive this long before the next one.
    orphan_grace: float = 1.0
    #: Start-up drain: the module is done once quiet this long (its lines come back
    #: within milliseconds at 115200 baud), and the drain never lasts beyond the limit.
    drain_quiet: float = 0.1
    drain_limit: float = 2.0
    scan_margin: float = 3.0  # beyond the modelled dwell of the channels scanned
    scan_trailing: float = 0.5  # EPANDESC may trail EVENT 22 (hsakoh)
    join: float = 60.0  # SKJOIN → EVENT 25/24
    send_ack: float = 10.0  # SKSENDTO → EVENT 21 + OK
    response: float = 12.0  # Get → Get_Res (momonga's 12 s; a late answer is ignored by TID)
    #: EVENT 29 → the module's own EVENT 25. EVENT 29 means the lifetime ran out because
    #: the module's re-authentication (begun at 80 % of it, hours earlier) did not complete
    #: (protocol.md §5.3, transcripts T20 S3b): an EVENT 25 can still come only from a
    #: PANA exchange already in flight, which ends within a join (~3 s) plus PANA's first
    #: retransmission (2 s). Waiting longer only delays the rejoin that is almost always
    #: needed (hsakoh, node-wisunrb and uchinopower rejoin at once).
    reauth: float = 5.0
    #: EVENT 32 → EVENT 33 (the ARIB window is ~1 h): polls pause at most this long.
    rate_limit: float = 3900.0
    #: A history frame is sent only with at least this deadline (a round trip takes ~1 s)…
    history_min_frame: float = 5.0
    #: …and ends this long before the next poll is due.
    history_spare: float = 1.0
    #: Bound on ending the session at a stop (SKTERM + its EVENT 27/28, or a join's end).
    stop: float = 3.0
    #: At a stop during SKJOIN: wait this long for its EVENT 25/24 (a join takes ~3 s;
    #: this leaves the SKTERM or SKRESET that follows its second within ``stop``).
    join_end: float = 2.0
    #: SKTERM's or SKRESET's OK at a stop (what is left of ``stop`` after ``join_end``).
    stop_command: float = 1.0
    #: SKTERM's OK at the end of a one-shot tool (``trio-smartmeter read``).
    tool_term: float = 2.0
    #: At a stop, in-flight HTTP requests get this long after the link has ended.
    http_drain: float = 2.0
    #: A whole stop after SIGTERM (SKTERM, the port, MQTT's "offline", HTTP's drain): cut
    #: short after this; systemd's and docker's default is 10 s, the issue's bound 5 s.
    shutdown: float = 4.5
    #: MQTT: DNS, TCP, TLS handshake and CONNACK together…
    mqtt_connect: float = 10.0
    #: …and the worker thread that connects is abandoned this much later (paho's own
    #: connect timeout, the same ``mqtt_connect``, normally answers first).
    mqtt_thread_slack: float = 1.0
    #: At a stop: MQTT's "offline" and DISCONNECT written within this, else the last will
    #: says it.
    mqtt_goodbye: float = 0.5
    #: The status page waits this long for the history store's bars (a slow disk: none).
    history_read: float = 5.0
    #: Longest one start-up step may take (importing trio and hypercorn on a Pi Zero takes
    #: seconds) before the early stand-in stops calling the process healthy.
    startup_step: float = 30.0
