"""The web pages (issue 16) in a real browser: Debian's headless Chromium driven by Selenium against a real server
on loopback, behind a token. Pages render with no console errors; their numbers equal the JSON API's; a run's
progress updates while it goes; cancel and resume work from the page; the leaderboard orders agents as
GET /leaderboard does; /docs renders offline; the token is asked once and never appears in a URL. Each page is
saved as a screenshot (benchmarks/results/screenshots/, or MLEB_SCREENSHOTS)."""
from __future__ import annotations

import time

import httpx
import pytest

from conftest import ROOT, copy_project, write_zip
from programlib.sandbox import probe
from sdk.client import Client
from test_server import SLOW_BASELINE, Server, wait_for_status
from web_browser import Browser

pytestmark = [pytest.mark.skipif(probe() is not None, reason=f"bubblewrap cannot confine agents here: {probe()}"),
              pytest.mark.xdist_group("web_ui")]  # one server, one browser, the tests in order (--dist loadgroup)
TOKEN = "web-ui-test-token-5f3a9c"
TWO = ["churn-spec", "tabular-baseline"]
AGENTS = ("dummy", "reference")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    project = copy_project(tmp_path_factory.mktemp("web-project"), tasks=tuple(TWO)).root
    (project / "splits").symlink_to(ROOT / "splits")
    (project / "agents").mkdir()
    for agent in (*AGENTS, "misbehaving"):
        source = ROOT / ("tests/agents" if agent == "misbehaving" else "agents") / agent
        (project / "agents" / agent).symlink_to(source)
    with Server(project, tmp_path_factory.mktemp("web-server") / "runs", workers=3,
                env={"MLEB_SERVER_TOKEN": TOKEN}) as running:
        yield running


@pytest.fixture(scope="module")
def client(server):
    with Client(server.url, token=TOKEN) as sdk:
        yield sdk


@pytest.fixture(scope="module")
def agent_runs(client) -> dict[str, str]:
    """Started at once, not awaited: the first test watches one go."""
    runs = {agent: client.run(competitions=TWO, agent_id=agent, lite=True) for agent in AGENTS}
    runs["misbehaving"] = client.run(competitions=TWO, agent_id="misbehaving", variant="nothing", lite=True)
    return runs


@pytest.fixture(scope="module")
def browser(server):
    """Logged in through the form, once: the first page asked for is the login page."""
    opened = Browser(server.url)
    driver = opened.get("/ui/runs")
    assert "/ui/login" in driver.current_url, driver.current_url
    driver.find_element("id", "token").send_keys(TOKEN)
    opened.screenshot("login")
    driver.find_element("id", "login").click()
    wait(lambda: driver.current_url.endswith("/ui/runs"), "the login did not lead back to the runs page")
    yield opened
    opened.quit()


@pytest.fixture(autouse=True)
def no_console_errors(request):
    yield
    if "browser" in request.fixturenames:
        errors = request.getfixturevalue("browser").errors()
        assert not errors, errors


def wait(condition, what: str, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.2)
    raise AssertionError(what)


def live(driver) -> dict:
    """The run page's live numbers, read in one script (web.js replaces the section under Selenium's feet)."""
    return driver.execute_script(
        "const c = document.querySelector('#run .counts').dataset;"
        "return {status: document.getElementById('run-status').textContent, done: +c.done, running: +c.running,"
        " queued: +c.queued, total: +c.total}")


def row_status(driver, run_id: str) -> str | None:
    return driver.execute_script(f"const r = document.getElementById('run-{run_id}'); return r && r.dataset.status")


def test_a_runs_progress_updates_on_the_page_while_it_goes(browser, client, agent_runs):
    run_id = agent_runs["dummy"]
    driver = browser.get(f"/ui/runs/{run_id}")
    driver.execute_script("window.notReloaded = true")
    seen = [live(driver)]
    def finished():
        now = live(driver)
        if now != seen[-1]:
            seen.append(now)
        return now["status"] == "completed"
    wait(finished, f"the page never showed run {run_id} completed (saw {seen})", timeout=240)
    assert driver.execute_script("return window.notReloaded") is True  # updated in place, not reloaded
    assert seen[0]["done"] < seen[-1]["done"] == seen[-1]["total"] == 2, seen
    assert len({(s["done"], s["running"], s["queued"]) for s in seen}) >= 2, seen
    api = client.get_run(run_id)["progress"]
    assert (seen[-1]["done"], seen[-1]["total"]) == (api["done"], api["total"])


def test_the_run_page_shows_the_summarys_scores_and_links(browser, client, agent_runs):
    for agent in ("reference", "misbehaving"):
        client.wait(agent_runs[agent], timeout=240, progress=False)
    summary = client.get_run_summary(agent_runs["misbehaving"])
    driver = browser.get(f"/ui/runs/{agent_runs['misbehaving']}")
    for task in summary["tasks"]:
        row = driver.find_element("id", f"task-{task['task']}")
        value = row.find_element("css selector", ".score").get_attribute("data-value")
        assert (float(value) if value else None) == task["score"], (task["task"], value, task["score"])
        assert row.get_attribute("data-status") == task["status"]
    # the agent left nothing on churn-spec: its message comes first, above the tasks
    failure = driver.find_element("id", "failure-churn-spec").text
    assert "left no submission" in failure, failure
    first = driver.find_element("css selector", "#run section, #run table")
    assert first.get_attribute("id") == "failures"
    browser.screenshot("run-with-a-failure")
    driver = browser.get(f"/ui/runs/{agent_runs['reference']}")
    links = [a.get_attribute("href") for a in driver.find_elements("css selector", "#task-tabular-baseline a.artifact")]
    assert any(link.endswith("/detailed_results.html") for link in links) and \
        any(link.endswith("/rollout.zip") for link in links), links
    browser.screenshot("run")
    detailed = next(link for link in links if link.endswith("/detailed_results.html"))
    driver.get(detailed)  # opened with the session cookie, as a person clicking it
    assert "bearer token" not in driver.page_source and len(driver.page_source) > 500


def test_the_runs_page_equals_the_api_and_filters(browser, client, agent_runs):
    driver = browser.get("/ui/runs")
    api = {run["run_id"]: run for run in client.list_runs()}
    rows = driver.find_elements("css selector", "#runs tbody tr[data-run]")
    assert [row.get_attribute("data-run") for row in rows] == list(api)  # newest first, as GET /runs
    for row in rows:
        run = api[row.get_attribute("data-run")]
        shown = row.find_element("css selector", ".counts")
        assert row.get_attribute("data-status") == run["status"]
        assert int(shown.get_attribute("data-done")) == run["progress"]["done"]
        assert int(shown.get_attribute("data-total")) == run["progress"]["total"]
    browser.screenshot("runs")
    from selenium.webdriver.support.ui import Select
    Select(driver.find_element("id", "filter-agent")).select_by_value("dummy")
    driver.find_element("css selector", "#filters button").click()
    wait(lambda: "agent=dummy" in driver.current_url, "the filter did not apply")
    shown = [row.get_attribute("data-run") for row in driver.find_elements("css selector", "#runs tr[data-run]")]
    assert shown == [agent_runs["dummy"]]


def test_cancel_and_resume_work_from_the_page(browser, client, tmp_path):
    upload = client.upload(write_zip(tmp_path / "slow.zip", {"baseline.py": SLOW_BASELINE}))
    run_id = client.run(competitions=["tabular-baseline"], solution={"tabular-baseline": upload}, scale="tiny")
    wait_for_status(client, run_id, "running")
    driver = browser.get("/ui/runs")
    driver.find_element("css selector", f"#run-{run_id} button.cancel").click()
    driver.switch_to.alert.accept()  # "Cancel run ...?"
    wait(lambda: client.get_run(run_id)["status"] == "cancelled", "the page's Cancel did not cancel the run")
    wait(lambda: row_status(driver, run_id) == "cancelled", "the page did not show the run cancelled")
    assert "cancelled" in driver.find_element("id", "notice").text
    browser.screenshot("runs-after-cancel")
    driver.find_element("css selector", f"#run-{run_id} button.resume").click()
    wait(lambda: client.get_run(run_id)["status"] in ("queued", "running"), "the page's Resume did not resume")
    client.cancel(run_id)


def test_the_leaderboard_orders_agents_as_the_api_does(browser, client, agent_runs):
    for run_id in agent_runs.values():
        client.wait(run_id, timeout=240, progress=False)
    board = client.leaderboard()
    driver = browser.get("/ui/leaderboard")
    overall = driver.find_elements("css selector", "#overall tbody tr")
    assert [(r.get_attribute("data-agent"), r.get_attribute("data-variant")) for r in overall] == \
        [(row["agent"], row["variant"]) for row in board["agents"]]
    for row, expected in zip(overall, board["agents"]):
        assert float(row.find_element("css selector", ".any-medal").get_attribute("data-mean")) == \
            expected["any_medal"]["mean"]
    for task, ranking in board["by_task"].items():
        rows = driver.find_elements("css selector", f"#board-{task} tbody tr")
        assert [r.get_attribute("data-agent") for r in rows] == [item["agent"] for item in ranking]
        for r, item in zip(rows, ranking):
            mean = r.find_element("css selector", ".score").get_attribute("data-mean")
            assert (float(mean) if mean else None) == item["score"]["mean"]
    assert board["agents"][0]["agent"] == "reference"
    assert driver.find_elements("css selector", "#chart svg"), "no chart"
    browser.screenshot("leaderboard")


def test_the_tasks_page_lists_the_catalogue(browser, client):
    driver = browser.get("/ui/tasks")
    for task in client.list_competitions():
        card = driver.find_element("id", task["id"])
        assert task["title"] in card.text and task["metric"] in card.text
        assert all(scale in card.text for scale in task["scales"])
    browser.screenshot("tasks")


def test_docs_render_offline(browser, server):
    driver = browser.get("/docs")
    title = wait(lambda: driver.find_elements("css selector", ".swagger-ui .info .title"), "Swagger UI is blank")
    assert "benchmark server" in title[0].text
    wait(lambda: len(driver.find_elements("css selector", ".opblock")) > 5, "no endpoint listed")
    browser.screenshot("docs")


def test_the_token_was_asked_once_and_never_in_a_url(browser, server):
    browser.collect()
    urls = [url for _method, url in browser.requests]
    assert urls and all(url.startswith((server.url, "data:")) for url in urls), \
        [url for url in urls if not url.startswith((server.url, "data:"))]  # offline: nothing from elsewhere
    assert not [url for url in urls if TOKEN in url]
    logins = [url for method, url in browser.requests if method == "GET" and url.split("?")[0].endswith("/ui/login")]
    assert len(logins) == 1, logins  # the first page asked for it; no page after did
    cookie = next(c for c in browser.driver.get_cookies() if c["name"] == "mleb_web_session")
    assert cookie["httpOnly"] and "expiry" not in cookie and TOKEN not in cookie["value"]
    # without the session, pages and their data are refused
    assert httpx.get(f"{server.url}/ui/runs").status_code == 303
    assert httpx.get(f"{server.url}/ui/runs/rows").status_code == 303
    assert httpx.get(f"{server.url}/runs").status_code == 401
    assert httpx.delete(f"{server.url}/runs/x", cookies={"mleb_web_session": cookie["value"]}).status_code == 401
    browser.get("/ui/tasks").find_element("css selector", ".logout button").click()  # the session ends

    wait(lambda: "/ui/login" in browser.driver.current_url, "the logout did not lead to the login page")
    assert "/ui/login" in browser.get("/ui/leaderboard").current_url  # asked again
