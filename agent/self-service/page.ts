/**
 * The self-service page's HTML: one <article> per offer, named by package name and version, with a
 * `role="status"` line saying where the offer stands and, while it is open, Install and Decline buttons.
 * The server renders the offers it knows, and the same markup is the <template> the script clones for
 * offers that arrive later, so the structure is written once.
 */
import { createHash } from 'node:crypto';
import { PAGE_SCRIPT } from './page-script.js';
import type { DisplayedOffer } from './wording.js';

const PAGE_STYLE = `
:root { color-scheme: light dark; --bg: #f4f5f7; --card: #fff; --text: #1b1f24; --muted: #535b64; --accent: #0a58d0;
  --on-accent: #fff; --border: #c9d1d9; --ok: #17692e; --bad: #b3261e; --focus: #b35c00; }
@media (prefers-color-scheme: dark) { :root { --bg: #0d1117; --card: #161b22; --text: #e6edf3; --muted: #a4adb8;
  --accent: #5a9cf8; --on-accent: #0d1117; --border: #3b434c; --ok: #56d364; --bad: #ff7b72; --focus: #ffb454; } }
* { box-sizing: border-box; }
[hidden] { display: none !important; }
body { margin: 0; background: var(--bg); color: var(--text); font: 1rem/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
header, main { max-width: 46rem; margin: 0 auto; padding: 1.5rem 1rem 0; }
h1 { margin: 0 0 .25rem; font-size: 1.75rem; }
header p { margin: 0; color: var(--muted); }
.offers { display: grid; gap: 1rem; padding: 1rem 0 2rem; }
.offer { background: var(--card); border: 1px solid var(--border); border-radius: .5rem; padding: 1rem 1.25rem; }
.offer h2 { margin: 0; font-size: 1.25rem; }
.version { color: var(--muted); font-weight: 400; }
.facts { display: flex; flex-wrap: wrap; gap: .25rem 1.5rem; margin: .5rem 0; color: var(--muted); }
.facts div { display: flex; gap: .35rem; }
.facts dt::after { content: ":"; }
.facts dd { margin: 0; }
.status { margin: .5rem 0 0; font-weight: 600; }
.offer[data-state="installed"] .status { color: var(--ok); }
.offer[data-state="failed"] .status, .offer[data-state="refused"] .status { color: var(--bad); }
.actions { display: flex; gap: .75rem; margin-top: .75rem; }
button { font: inherit; font-weight: 600; min-height: 2.75rem; padding: .5rem 1.5rem; border-radius: .375rem; cursor: pointer;
  border: 2px solid var(--accent); background: var(--accent); color: var(--on-accent); }
button.decline { background: transparent; color: var(--text); border-color: var(--muted); }
button:disabled { opacity: .55; cursor: progress; }
:focus-visible { outline: 3px solid var(--focus); outline-offset: 3px; }
.empty { padding: 2rem 0; color: var(--muted); font-size: 1.125rem; }
.problem { margin: 1rem 0 0; padding: .75rem 1rem; border-radius: .375rem; border: 2px solid var(--bad); color: var(--bad); }
`;

function hashSource(source: string): string {
  return `'sha256-${createHash('sha256').update(source).digest('base64')}'`;
}

/**
 * Only the page's own script and style run, it talks only to its own origin, and no other site may frame it
 * (a framed page could be clicked through without the user knowing what they chose).
 */
export const PAGE_SECURITY_POLICY = [
  "default-src 'none'",
  `script-src ${hashSource(PAGE_SCRIPT)}`,
  `style-src ${hashSource(PAGE_STYLE)}`,
  "connect-src 'self'",
  'img-src data:',
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const htmlEscapes: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => htmlEscapes[char] ?? char);
}

/** One offer's article; without an offer, the empty skeleton the script fills in. */
function article(offer?: DisplayedOffer): string {
  const text = (value: string | undefined) => escapeHtml(value ?? '');
  const state = offer?.state ?? 'open';
  const choosable = state === 'open' || state === 'choosing';
  const disabled = state === 'choosing' ? ' disabled' : '';
  return `
<article class="offer" tabindex="-1" aria-label="${text(offer?.display.label)}" data-job-id="${text(offer?.jobId)}" data-state="${state}">
  <h2><span data-field="name">${text(offer?.name)}</span> <span class="version" data-field="version">${text(offer?.version)}</span></h2>
  <dl class="facts">
    <div><dt>Size</dt><dd data-field="size">${text(offer?.display.size)}</dd></div>
    <div><dt>Available until</dt><dd data-field="deadline">${text(offer?.display.deadline)}</dd></div>
  </dl>
  <p class="status" role="status" data-field="status">${text(offer?.display.status)}</p>
  <div class="actions"${choosable ? '' : ' hidden'}>
    <button type="button" class="install" data-choice="install"${disabled}>Install</button>
    <button type="button" class="decline" data-choice="decline"${disabled}>Decline</button>
  </div>
</article>`;
}

/** The whole page for the computer `agentName`, showing `offers` until the script's first refresh. */
export function renderPage(agentName: string, offers: readonly DisplayedOffer[]): string {
  const name = escapeHtml(agentName);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Software Center — ${name}</title>
<link rel="icon" href="data:,">
<style>${PAGE_STYLE}</style>
</head>
<body>
<header>
  <h1>Software Center</h1>
  <p>Software your IT department offers to <strong>${name}</strong>. Choose <strong>Install</strong> to install it now,
  or <strong>Decline</strong> if you do not need it.</p>
</header>
<main>
  <p id="problem" class="problem" role="alert" hidden>This page has lost touch with the Courier agent on this computer. Retrying…</p>
  <noscript><p class="problem">This page needs JavaScript to show offers as they change and to send your choices.</p></noscript>
  <p id="empty" class="empty"${offers.length > 0 ? ' hidden' : ''}>No software is offered to this computer right now.</p>
  <div id="offers" class="offers">${offers.map((offer) => article(offer)).join('')}</div>
</main>
<template id="offer-template">${article()}</template>
<script>${PAGE_SCRIPT}</script>
</body>
</html>
`;
}
