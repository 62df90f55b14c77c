"""`acsim dashboard`, used as a person would: the real command serves the page on a loopback
address, headless Chromium (Debian's package, driven by Playwright) loads it, a slider change
followed by Reset rebuilds the model, stepping updates the plots, and a screenshot is saved
(to the test's directory; with ACSIM_UPDATE_FIGURES=1 also to docs/figures/dashboard.png, the
README's, so that running the tests leaves the repository clean).

Outside CI the browser test skips with a message when Chromium, Playwright or the viz extra is
missing; in CI (CI=true, where .ci/run installs them) it runs. Oracles: the model's own state as
the page shows it (the rebuilt model has the slider's number of agents; the step counter), the
panels' images (changed by stepping, the strategy comparison unchanged), and the command's
refusal of a non-loopback address.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from acsim.experiments.cli import main
from acsim.experiments.dashboard import solara_command

CHROMIUM = Path("/usr/bin/chromium")
ACSIM = Path(sys.executable).with_name("acsim")  # the console script of this environment
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "figures" / "dashboard.png"
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync"]


def missing_for_the_browser_test() -> str | None:
    """What the browser test lacks on this machine, in words (None: nothing)."""
    if not CHROMIUM.exists():
        return f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    for module, extra in (("playwright", "test"), ("solara", "viz"), ("networkx", "viz")):
        if importlib.util.find_spec(module) is None:
            return f"{module} is not installed (pip install -e '.[{extra}]')"
    return None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_served(url: str, server: subprocess.Popen, seconds: float = 90.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"acsim dashboard exited with {server.returncode}:\n"
                        f"{server.stdout.read()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"acsim dashboard did not serve {url} within {seconds} s")


@pytest.fixture
def dashboard_url():
    """`acsim dashboard` on a free loopback port, stopped (its process group) afterwards."""
    missing = missing_for_the_browser_test()
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"the browser test must run in CI, but {missing}")
        pytest.skip(f"browser test skipped: {missing}")
    port = free_port()
    server = subprocess.Popen([str(ACSIM), "dashboard", "--port", str(port)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              start_new_session=True)
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_until_served(url, server)
        yield url
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def panel_images(page) -> list[str]:
    images = page.locator("img")
    return [images.nth(i).get_attribute("src") for i in range(images.count())]


def test_the_dashboard_in_headless_chromium(dashboard_url, tmp_path):
    from playwright.sync_api import sync_playwright

    shot = tmp_path / "dashboard.png"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=str(CHROMIUM), headless=True,
            args=CHROMIUM_FLAGS, viewport={"width": 1400, "height": 1450})
        try:
            page = browser.new_page()
            page.goto(dashboard_url, timeout=60_000)
            page.get_by_text("acsim: execution in an agent-based market").wait_for(
                timeout=60_000)
            page.get_by_text("step 0 of 20").wait_for(timeout=60_000)
            page.get_by_text("ensemble agents: 100,").wait_for()
            assert page.locator("img").count() == 5  # five figures beside the summary

            # a slider change, applied by Reset, rebuilds the model (100 -> 50 agents)
            slider = page.locator(".v-input", has_text="ensemble agents M").locator(
                "[role=slider]")
            assert slider.get_attribute("aria-valuenow") == "100"
            slider.focus()
            for _ in range(5):  # one step of 10 agents per key press, as a person types
                slider.press("ArrowLeft")
                time.sleep(0.4)
            assert slider.get_attribute("aria-valuenow") == "50"
            page.get_by_role("button", name="Reset").click()
            page.get_by_text("ensemble agents: 50,").wait_for(timeout=30_000)
            page.get_by_text("step 0 of 20").wait_for()

            # stepping updates the path plots; the comparison (same market) stays
            before = panel_images(page)
            for _ in range(3):
                page.get_by_role("button", name="Step").click()
                time.sleep(0.3)
            page.get_by_text("step 3 of 20").wait_for(timeout=30_000)
            page.get_by_text("Step: 3").wait_for()
            time.sleep(1.0)
            after = panel_images(page)
            assert len(after) == len(before) == 5
            assert sum(a != b for a, b in zip(before, after)) == 4
            assert after[-1] == before[-1]
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if os.environ.get("ACSIM_UPDATE_FIGURES") == "1":
        SCREENSHOT.write_bytes(shot.read_bytes())


def test_the_dashboard_serves_on_a_loopback_address_only(capsys):
    command = solara_command("127.0.0.1", 8765, False)
    assert command[command.index("--host") + 1] == "127.0.0.1" and "--no-open" in command
    assert solara_command("::1", 0, True)[-1] == "--open"
    for host in ("0.0.0.0", "192.168.1.5", "example.org", "::"):
        assert main(["dashboard", "--host", host]) == 2
        assert "loopback" in capsys.readouterr().err
    assert main(["dashboard", "--port", "70000"]) == 2
    assert "--port must be in 0..65535" in capsys.readouterr().err


@pytest.mark.skipif(importlib.util.find_spec("solara") is None,
                    reason="the viz extra is not installed")
@pytest.mark.filterwarnings("ignore:.*use_state.*found despite early return:UserWarning")
def test_the_dashboard_model_drops_options_the_strategy_does_not_take():
    from acsim.experiments.dashboard_app import DashboardMarket

    model = DashboardMarket(strategy="twap", forecast="model", no_buyback=True, agents=20)
    assert model.config.strategy.name == "twap" and model.config.strategy.options == {}
    model.step()
    kinds = model.datacollector.get_agent_vars_dataframe()["type"]
    assert len(kinds) == 2 * 21  # every agent (20 ensemble + the executor) at steps 0 and 1
