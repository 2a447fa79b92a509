/**
 * The self-service page's script, sent inline (its hash is in the page's Content-Security-Policy). It
 * refreshes the offers every second from `GET /api/offers` and patches the articles in place rather than
 * rebuilding them, so keyboard focus and screen-reader position survive each refresh; new offers are cloned
 * from the page's <template>. It sends choices to `POST /api/offers/:jobId/choice` and, when one is refused,
 * shows why in the offer's status until the offer changes.
 */
export const PAGE_SCRIPT = `'use strict';
(() => {
  const REFRESH_MS = 1000;
  const list = document.getElementById('offers');
  const empty = document.getElementById('empty');
  const problem = document.getElementById('problem');
  const template = document.getElementById('offer-template');
  /** Refusals worth a sentence of their own; others show the server's message. */
  const refusalWords = {
    expired: 'This offer has expired.',
    offer_closed: 'This offer has been closed.',
    already_decided: 'A choice has already been made for this offer.',
    not_offered: 'This offer is not meant for this computer.',
    not_offered_yet: 'This offer is still on its way to this computer. Try again in a moment.',
    temporal_unavailable: 'The managing server is busy. Try again in a moment.',
    server_unreachable: 'The managing server cannot be reached. Try again later.',
    not_enrolled: 'This computer is still connecting to the managing server. Try again in a moment.',
  };
  /** After these, trying again cannot help: the buttons stay disabled. */
  const finalRefusals = new Set(['expired', 'offer_closed', 'already_decided', 'not_offered']);
  const refused = new Map();
  const sending = new Set();

  const field = (article, name) => article.querySelector('[data-field="' + name + '"]');
  const setText = (element, text) => {
    if (element.textContent !== text) element.textContent = text;
  };

  function articleFor(jobId) {
    for (const article of list.children) if (article.dataset.jobId === jobId) return article;
    const article = template.content.firstElementChild.cloneNode(true);
    article.dataset.jobId = jobId;
    return article;
  }

  function update(article, offer) {
    const { display } = offer;
    if (article.getAttribute('aria-label') !== display.label) article.setAttribute('aria-label', display.label);
    setText(field(article, 'name'), offer.name);
    setText(field(article, 'version'), offer.version);
    setText(field(article, 'size'), display.size);
    setText(field(article, 'deadline'), display.deadline);
    const choosable = offer.state === 'open' || offer.state === 'choosing';
    if (!choosable) refused.delete(offer.jobId);
    const refusal = refused.get(offer.jobId);
    const busy = sending.has(offer.jobId);
    setText(field(article, 'status'), busy ? 'Sending your choice…' : refusal ? refusal.text : display.status);
    article.dataset.state = refusal ? 'refused' : offer.state;
    const actions = article.querySelector('.actions');
    // The buttons are about to go: keep the keyboard where the user was.
    if (!choosable && actions.contains(document.activeElement)) article.focus();
    actions.hidden = !choosable;
    const disabled = busy || offer.state === 'choosing' || Boolean(refusal && refusal.final);
    for (const button of actions.querySelectorAll('button')) button.disabled = disabled;
  }

  function render(offers) {
    const shown = new Set(offers.map((offer) => offer.jobId));
    for (const article of [...list.children]) if (!shown.has(article.dataset.jobId)) article.remove();
    offers.forEach((offer, index) => {
      const article = articleFor(offer.jobId);
      update(article, offer);
      const here = list.children[index];
      if (here !== article) list.insertBefore(article, here || null);
    });
    empty.hidden = offers.length > 0;
  }

  async function refresh() {
    try {
      const response = await fetch('/api/offers', { cache: 'no-store' });
      if (!response.ok) throw new Error('HTTP ' + response.status);
      render((await response.json()).offers);
      problem.hidden = true;
    } catch {
      problem.hidden = false;
    }
  }

  async function choose(article, choice) {
    const jobId = article.dataset.jobId;
    // Focus moves off the button before it is disabled, so keyboard users keep their place.
    article.focus();
    sending.add(jobId);
    refused.delete(jobId);
    for (const button of article.querySelectorAll('button')) button.disabled = true;
    setText(field(article, 'status'), 'Sending your choice…');
    try {
      const response = await fetch('/api/offers/' + encodeURIComponent(jobId) + '/choice', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ choice }),
      });
      if (!response.ok) {
        const error = (await response.json().catch(() => ({}))).error || {};
        const text = refusalWords[error.code] || error.message || 'Your choice could not be sent (HTTP ' + response.status + ').';
        refused.set(jobId, { text, final: finalRefusals.has(error.code) });
      }
    } catch {
      refused.set(jobId, { text: 'Your choice could not be sent: this page lost the Courier agent. Try again.', final: false });
    } finally {
      sending.delete(jobId);
    }
    await refresh();
  }

  list.addEventListener('click', (event) => {
    const button = event.target.closest('button[data-choice]');
    if (button && !button.disabled) void choose(button.closest('article'), button.dataset.choice);
  });

  async function poll() {
    await refresh();
    setTimeout(poll, REFRESH_MS);
  }
  void poll();
})();
`;
