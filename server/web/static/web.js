// The pages' only script: live tables and the cancel/resume buttons. Every call carries the X-MLEB-Web header
// (the session cookie opens a change only with it) and never a token: the browser's session cookie stands for it.
"use strict";
const HEADERS = { "X-MLEB-Web": "1" };
const EVERY_MS = 2000;

function notice(text, bad) {
  const box = document.getElementById("notice");
  if (!box) return;
  box.textContent = text;
  box.className = bad ? "notice error" : "notice";
  box.hidden = !text;
}

async function refresh(section) {
  const response = await fetch(section.dataset.refresh, { headers: HEADERS, cache: "no-store" });
  if (!response.ok) throw new Error(`${response.status} ${response.statusText}`);
  const holder = document.createElement("div");
  holder.innerHTML = await response.text();
  const fresh = holder.querySelector("[data-refresh]");
  if (fresh) section.replaceWith(fresh);
  return fresh;
}

function watch(section) {
  if (!section || !section.dataset.live) return;
  setTimeout(async () => {
    try {
      watch(await refresh(section));
    } catch (error) {
      notice(`Could not refresh (${error.message}); reload the page.`, true);
    }
  }, EVERY_MS);
}

async function act(button) {
  if (button.dataset.confirm && !window.confirm(button.dataset.confirm)) return;
  button.disabled = true;
  const response = await fetch(button.dataset.url, { method: button.dataset.method, headers: HEADERS });
  const body = await response.json().catch(() => ({}));
  notice(response.ok ? `Run ${body.run_id}: ${body.status}` : `Refused: ${body.error || response.status}`,
         !response.ok);
  const section = document.querySelector("[data-refresh]");
  if (section) watch(await refresh(section));
}

document.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-url]");
  if (button) act(button).catch((error) => notice(`Failed: ${error.message}`, true));
});
document.addEventListener("DOMContentLoaded", () => watch(document.querySelector("[data-refresh]")));
