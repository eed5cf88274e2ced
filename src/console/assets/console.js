// The console's only script: keeps [data-poll] parts fresh, uploads files (input or drop)
// through PUT /console/upload/<name>, and replays dead letters. State-changing requests
// carry the page's token (X-Console-Token).
"use strict";

const token = document.querySelector('meta[name="console-token"]').content;
const POLL_MS = 1000;

async function refresh(element) {
  const response = await fetch(element.dataset.poll, { cache: "no-store" });
  if (!response.ok) return;
  const html = await response.text();
  if (element.dataset.last !== html) {
    element.dataset.last = html;
    element.innerHTML = html;
  }
}

function refreshAll() {
  for (const element of document.querySelectorAll("[data-poll]")) {
    refresh(element).catch((error) => console.warn("refresh failed:", error));
  }
}

async function uploadOne(file, list) {
  const item = document.createElement("li");
  item.dataset.file = file.name;
  item.textContent = file.name + ": uploading…";
  list.prepend(item);
  const url = "/console/upload/" + encodeURIComponent(file.name);
  try {
    const response = await fetch(url, {
      method: "PUT",
      headers: {
        "X-Console-Token": token,
        "Content-Type": file.type || "application/octet-stream",
      },
      body: file,
    });
    const answer = await response.json().catch(() => ({}));
    item.dataset.outcome = response.ok ? "uploaded" : "refused";
    item.textContent = file.name + ": " + (response.ok ? "uploaded" : answer.error || response.statusText);
  } catch (error) {
    item.dataset.outcome = "refused";
    item.textContent = file.name + ": " + error;
  }
}

async function uploadAll(files) {
  const list = document.getElementById("uploads");
  if (!list) return;
  for (const file of files) {
    await uploadOne(file, list);
    refreshAll();
  }
}

async function replay(button) {
  const result = document.getElementById("replay-result");
  button.disabled = true;
  result.textContent = "Replaying " + button.dataset.replay + "…";
  const response = await fetch("/console/dead-letters/" + encodeURIComponent(button.dataset.replay) + "/replay", {
    method: "POST",
    headers: { "X-Console-Token": token },
  });
  const answer = await response.json().catch(() => ({}));
  result.dataset.outcome = response.ok && answer.removed ? "removed" : "kept";
  result.textContent = response.ok ? answer.lines.join("\n") : answer.error || response.statusText;
  refreshAll();
}

document.addEventListener("DOMContentLoaded", () => {
  const input = document.getElementById("files");
  if (input) {
    input.addEventListener("change", () => uploadAll(Array.from(input.files)));
    document.addEventListener("dragover", (event) => {
      event.preventDefault();
      document.body.classList.add("dropping");
    });
    document.addEventListener("dragleave", () => document.body.classList.remove("dropping"));
    document.addEventListener("drop", (event) => {
      event.preventDefault();
      document.body.classList.remove("dropping");
      uploadAll(Array.from(event.dataTransfer.files));
    });
  }
  document.addEventListener("click", (event) => {
    const button = event.target.closest("[data-replay]");
    if (button) replay(button).catch((error) => console.warn("replay failed:", error));
  });
  if (document.querySelector("[data-poll]")) setInterval(refreshAll, POLL_MS);
});
