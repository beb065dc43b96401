// payhook dashboard: the little JavaScript it has. Pages work without it; it adds copy
// buttons and asks before destructive actions. Loaded from /assets (the CSP allows no inline
// script).
"use strict";

document.addEventListener("click", async (event) => {
  const button = event.target.closest("button[data-copy]");
  if (!button) return;
  const source = document.getElementById(button.dataset.copy);
  if (!source) return;
  const text = source.value ?? source.textContent;
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    // Clipboard access can be refused (no HTTPS, no permission): select the text instead.
    source.select?.();
    document.execCommand?.("copy");
  }
  const label = button.textContent;
  button.textContent = "Copied";
  button.dataset.copied = "true";
  setTimeout(() => { button.textContent = label; }, 1500);
});

document.addEventListener("submit", (event) => {
  const message = event.target.dataset.confirm;
  if (message && !window.confirm(message)) event.preventDefault();
});
