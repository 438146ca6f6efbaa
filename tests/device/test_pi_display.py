"""Renderers: the emulator's screen file read back, the terminal's ANSI output, the renderer choice."""

from __future__ import annotations

import io
import os

import pytest

from device.pi_subscriber import display, patterns
from testbed.emu_screen import as_rgb565, read_emu_screen

BLUE = (0, 90, 255)


def test_emulator_renderer_draws_dims_rotates_and_clears_its_screen_file(emu_screen: None) -> None:
    renderer = display.EmulatorRenderer()
    try:
        arrow = patterns.arrow("left", BLUE)
        renderer.show(arrow, "recycling")
        assert read_emu_screen() == (as_rgb565(arrow), False)
        renderer.set_low_light(True)
        assert read_emu_screen()[1] is True
        renderer.clear()
        assert read_emu_screen() == (patterns.blank(), False)
    finally:
        renderer.close()
    upside_down = display.EmulatorRenderer(rotation=180)  # a Pi mounted the other way up
    try:
        upside_down.show(patterns.arrow("left", BLUE), "recycling")
        assert read_emu_screen()[0] == as_rgb565(patterns.arrow("right", BLUE))
    finally:
        upside_down.clear()
        upside_down.close()


def test_emulator_renderer_stands_in_for_the_gui_lock_and_gives_it_back(emu_screen: None) -> None:
    from sense_emu.lock import lock_filename

    renderer = display.EmulatorRenderer()
    with open(lock_filename()) as lock:
        assert int(lock.read()) == os.getpid()
    client_socket = f"/dev/shm/rpi-sense-emu-client-{os.getpid()}"
    assert os.path.exists(client_socket)
    renderer.close()
    assert not os.path.exists(lock_filename())
    assert not os.path.exists(client_socket)  # no litter in /dev/shm, one file per run otherwise


def test_terminal_renderer_prints_each_led_in_24_bit_colour_with_a_caption() -> None:
    out = io.StringIO()
    renderer = display.TerminalRenderer(out)
    renderer.show(patterns.arrow("right", BLUE), "recycling (right)")
    lines = out.getvalue().splitlines()
    assert lines[3] == "\x1b[48;2;0;90;255m  " * 8 + "\x1b[0m"  # the shaft: a full row
    assert lines[0].count("\x1b[48;2;0;0;0m") == 7
    assert lines[8] == "recycling (right)"
    renderer.set_low_light(True)
    renderer.show(patterns.arrow("right", BLUE), "recycling (right)")
    assert "\x1b[48;2;0;22;63m" in out.getvalue() and out.getvalue().rstrip().endswith("(dim)")


def test_sensehat_without_the_os_package_is_one_clear_error_and_auto_falls_back(emu_screen: None) -> None:
    with pytest.raises(display.DisplayError, match="apt install sense-hat"):
        display.make_renderer("sensehat")
    fallback = display.make_renderer("auto")
    try:
        assert fallback.name == "emu"
    finally:
        fallback.close()
    assert display.make_renderer("terminal").name == "terminal"
