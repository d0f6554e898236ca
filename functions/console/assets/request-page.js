import { ApiError, call } from './api.js';
import { verifyTrail } from './chain.js';
import { badge, h, time } from './dom.js';
import { checkReceipt } from './receipt.js';

/** @typedef {{ show: (...nodes: Node[]) => void, failure: (error: unknown) => HTMLElement }} Shell */

/** Events after which the audit log refuses any other: a trail ending with one is complete. */
const SEALING_EVENTS = ['request.completed', 'request.canceled'];

/**
 * One request's story: its facts, each provider action, the audit events as a timeline, and the chain recomputed
 * here, in the browser, from the events as served.
 * @param {string} id
 * @param {Shell} shell
 */
export async function renderRequest(id, shell) {
  const body = h('div', { 'aria-live': 'polite', 'aria-busy': 'true' }, h('p', {}, 'Loading the request…'));
  shell.show(h('h1', {}, 'Erasure request'), h('p', { class: 'mono muted' }, id), body);
  let view;
  try {
    view = await call(`v1/erasure-requests/${id}`);
  } catch (error) {
    body.replaceChildren(shell.failure(error));
    body.setAttribute('aria-busy', 'false');
    return;
  }
  const integrity = h(
    'div',
    { class: 'integrity pending', role: 'status' },
    'Verifying the audit chain in this browser…',
  );
  const timeline = h('ol', { class: 'timeline' });
  // Each provider action appends to a lane of its own (the erasures run in parallel), whose head the seal commits to.
  /** @type {{ lane: string, events: any[] }[]} */
  const lanes = view.lanes ?? [];
  const laneTimelines = lanes.map(() => h('ol', { class: 'timeline' }));
  const receipt = h('div', { class: 'receipt', role: 'status' });
  const downloads = h(
    'div',
    { class: 'actions-bar' },
    downloadButton(view, `${view.id}.json`, 'Download this view (JSON, for npm run verify-trail)'),
  );
  body.replaceChildren(
    facts(view),
    integrity,
    receipt,
    downloads,
    h(
      'section',
      { 'aria-labelledby': 'actions-title' },
      h('h2', { id: 'actions-title' }, 'Provider actions'),
      actionsTable(view.actions ?? []),
    ),
    h('section', { 'aria-labelledby': 'timeline-title' }, h('h2', { id: 'timeline-title' }, 'Audit trail'), timeline),
    ...lanes.map(({ lane }, i) =>
      h(
        'section',
        { 'aria-labelledby': `lane-title-${i}` },
        h('h3', { id: `lane-title-${i}` }, `Lane ${lane}`),
        h('p', { class: 'muted small' }, 'This action’s own chain; the sealing event commits to its head.'),
        laneTimelines[i] ?? null,
      ),
    ),
  );
  body.setAttribute('aria-busy', 'false');

  const receiptShown = FINAL_STATUSES.includes(view.status) ? showReceipt(view, receipt, downloads) : undefined;
  let verification;
  try {
    verification = await verifyTrail(view);
  } catch (error) {
    integrity.className = 'integrity broken';
    integrity.textContent =
      typeof crypto === 'undefined' || !crypto.subtle
        ? 'The chain cannot be verified here: browsers offer Web Crypto only on HTTPS pages (or localhost).'
        : `The chain could not be verified: ${String(error)}`;
    timeline.replaceChildren(...view.events.map((/** @type {any} */ e) => eventItem(e, undefined)));
    for (const [i, { events }] of lanes.entries()) {
      laneTimelines[i]?.replaceChildren(...events.map((e) => eventItem(e, undefined)));
    }
    return;
  }
  const bySeq = new Map(verification.checks.map((c) => [`${c.lane ?? ''}#${c.seq}`, c]));
  timeline.replaceChildren(...view.events.map((/** @type {any} */ e) => eventItem(e, bySeq.get(`#${e.seq}`))));
  for (const [i, { lane, events }] of lanes.entries()) {
    laneTimelines[i]?.replaceChildren(...events.map((e) => eventItem(e, bySeq.get(`${lane}#${e.seq}`))));
  }
  integrity.replaceChildren(...integrityReport(view, verification));
  integrity.className = `integrity ${verification.valid ? 'verified' : 'broken'}`;
  await receiptShown;
}

/** Statuses in which a request has ended, and so has a signed receipt. */
const FINAL_STATUSES = ['completed', 'partially_completed', 'failed', 'canceled'];

/**
 * Fetches the request's receipt and the service's public keys, checks them here (signatures, inclusion in the
 * transparency log, agreement with this trail) and offers the receipt for `npm run verify`.
 * @param {any} view
 * @param {HTMLElement} panel
 * @param {HTMLElement} downloads
 */
async function showReceipt(view, panel, downloads) {
  panel.className = 'receipt pending';
  panel.textContent = 'Fetching and verifying the signed receipt…';
  let bundle;
  let jwks;
  try {
    [bundle, jwks] = await Promise.all([call(`v1/erasure-requests/${view.id}/receipt`), call('.well-known/jwks.json')]);
  } catch (error) {
    panel.className = 'receipt';
    panel.textContent =
      error instanceof ApiError && (error.status === 404 || error.status === 409)
        ? 'No signed receipt for this request (requests that ended before this service issued receipts have none).'
        : `The receipt could not be fetched: ${error instanceof Error ? error.message : String(error)}`;
    return;
  }
  const checks = await checkReceipt(bundle, jwks, view);
  const valid = checks.every((check) => check.ok);
  panel.className = `receipt ${valid ? 'verified' : 'broken'}`;
  panel.replaceChildren(
    h('p', { class: 'receipt-verdict' }, valid ? '✔ Receipt verified' : '✘ Receipt does not verify'),
    h(
      'ul',
      { class: 'plain' },
      checks.map((check) => h('li', {}, `${check.ok ? '✔' : '✘'} ${check.name}: ${check.detail}`)),
    ),
  );
  downloads.append(
    downloadButton(bundle, `${view.id}.receipt.json`, 'Download the receipt (JSON, for npm run verify)'),
  );
}

/** @param {any} view */
function facts(view) {
  /** @type {[string, Node | string][]} */
  const rows = [
    ['Status', badge(view.status)],
    ['Reference', view.reference ?? h('span', { class: 'muted' }, 'none')],
    ['Pseudonym of the data subject', h('span', { class: 'mono break' }, view.subject?.pseudonym ?? '—')],
    ['Identifiers searched', (view.subject?.identifiers ?? []).join(', ') || '—'],
    ['Received', time(view.receivedAt)],
    [
      'Due',
      h(
        'span',
        {},
        time(view.dueAt),
        view.extension ? h('span', { class: 'tag' }, 'extended') : null,
        view.overdue ? h('strong', { class: 'tag tag-overdue' }, 'overdue') : null,
      ),
    ],
    [view.canceledAt ? 'Canceled' : 'Completed', time(view.completedAt ?? view.canceledAt)],
  ];
  const extension = view.extension;
  if (extension) {
    rows.push([
      'Deadline extended (Art. 12(3))',
      h(
        'span',
        {},
        `by ${extension.months} month${extension.months === 1 ? '' : 's'}, ${String(extension.reasonCode).replace(/_/g, ' ')}`,
        extension.note ? ` (${extension.note})` : '',
        ', on ',
        time(extension.extendedAt),
        '; first deadline ',
        time(extension.previousDueAt),
      ),
    ]);
  }
  return h(
    'dl',
    { class: 'facts' },
    rows.map(([term, value]) => h('div', {}, h('dt', {}, term), h('dd', {}, value))),
  );
}

/**
 * @param {any} view
 * @param {import('./chain.js').TrailVerification} verification
 */
function integrityReport(view, verification) {
  const sealed = SEALING_EVENTS.includes(view.events.at(-1)?.type);
  const service = view.integrity?.chainValid;
  const agreement =
    service === undefined
      ? ''
      : service === verification.valid
        ? h('p', {}, `The service’s own check agrees (${service ? 'valid' : 'broken'}).`)
        : h(
            'p',
            {},
            h(
              'strong',
              {},
              `The service reports the chain ${service ? 'valid' : 'broken'}: it disagrees with this browser.`,
            ),
          );
  if (verification.valid) {
    return [
      h('p', { class: 'verdict' }, '✔ Chain verified'),
      h(
        'p',
        {},
        `All ${verification.events} events recomputed in this browser (SHA-256 over RFC 8785 canonical JSON), each linked to the one before${laneCount(view) ? `, in the request’s chain and its ${laneCount(view)} lane(s)` : ''}. `,
        sealed
          ? `The trail ends with its sealing event: nothing can follow it${laneCount(view) ? ', and every lane ends where it says' : ''}.`
          : 'The trail is still open.',
      ),
      h('p', {}, 'Head: ', h('code', { class: 'break' }, verification.head ?? '—')),
      agreement,
    ];
  }
  if (verification.problem === 'after-seal') {
    return [
      h('p', { class: 'verdict' }, `✘ Event #${verification.brokenAt} follows the sealing event`),
      h(
        'p',
        {},
        `Recomputed in this browser: the trail was sealed, and nothing may follow its sealing event; event #${verification.brokenAt} was added after it.`,
      ),
      agreement,
    ];
  }
  if (verification.problem === 'lane-twice') {
    return [
      h('p', { class: 'verdict' }, `✘ Lane ${verification.brokenLane} is listed more than once`),
      h(
        'p',
        {},
        `The view holds two trails for lane ${verification.brokenLane}: checking one would vouch for the other. No trail the service writes does that.`,
      ),
      agreement,
    ];
  }
  if (verification.problem === 'lane-head') {
    return [
      h('p', { class: 'verdict' }, `✘ Lane ${verification.brokenLane} does not end where the seal says`),
      h(
        'p',
        {},
        `Recomputed in this browser: the sealing event #${verification.brokenAt} commits to another head of lane ${verification.brokenLane} (events were cut off from it, or added after the seal).`,
      ),
      agreement,
    ];
  }
  const why = {
    sequence: 'it is out of sequence (an event is missing or was inserted)',
    link: 'its link to the previous event does not match that event’s hash',
    hash: 'its content does not match its hash (it was changed after it was recorded)',
  }[verification.problem ?? 'hash'];
  const where = verification.brokenLane ? `lane ${verification.brokenLane}, event` : 'event';
  return [
    h('p', { class: 'verdict' }, `✘ Chain broken at ${where} #${verification.brokenAt}`),
    h('p', {}, `Recomputed in this browser: ${where} #${verification.brokenAt} fails because ${why}.`),
    agreement,
  ];
}

/** @param {any} view */
const laneCount = (view) => (view.lanes ?? []).length;

/** @param {any[]} actions */
function actionsTable(actions) {
  if (actions.length === 0) return h('p', {}, 'No provider action recorded yet.');
  return h(
    'table',
    {},
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        ['Provider', 'Action', 'Outcome', 'Records', 'Batch', 'Read-back', 'Remarks'].map((t) =>
          h('th', { scope: 'col' }, t),
        ),
      ),
    ),
    h(
      'tbody',
      {},
      actions.map((a) =>
        h(
          'tr',
          {},
          h('th', { scope: 'row' }, a.provider),
          h('td', {}, String(a.action).replace(/_/g, ' ')),
          h('td', {}, h('span', { class: `outcome outcome-${a.outcome}` }, String(a.outcome).replace(/_/g, ' '))),
          h('td', { class: 'num' }, String(a.count ?? '—')),
          h('td', { class: 'mono' }, a.batchId === undefined ? '—' : String(a.batchId)),
          h('td', {}, readBack(a)),
          h('td', {}, remarks(a)),
        ),
      ),
    ),
  );
}

/**
 * The action's read-back proof, when the service records one: when it searched again after acting, in how many forms
 * of the identifiers, and how many of the subject's records it still found (0 for a person erased or never there).
 * @param {any} action
 */
function readBack(action) {
  const proof = action.verification ?? action.readBack;
  if (!proof || typeof proof !== 'object') return h('span', { class: 'muted' }, '—');
  const found = Number(proof.stillFound);
  return h(
    'span',
    { class: 'small' },
    h('span', { class: found === 0 ? 'ok' : 'error-text' }, `${Number.isFinite(found) ? found : '?'} still found`),
    `, ${proof.formsSearched ?? '?'} form${proof.formsSearched === 1 ? '' : 's'} searched, `,
    time(proof.checkedAt),
  );
}

/** @param {any} action */
function remarks(action) {
  const items = [
    ...(action.errors ?? []).map((/** @type {string} */ e) => h('li', { class: 'error-text' }, e)),
    ...(action.notes ?? []).map((/** @type {string} */ n) => h('li', {}, n)),
  ];
  return items.length ? h('ul', { class: 'plain small' }, items) : h('span', { class: 'muted' }, '—');
}

/**
 * @param {any} event
 * @param {import('./chain.js').EventCheck | undefined} check
 */
function eventItem(event, check) {
  const data = Object.entries(event.data ?? {});
  return h(
    'li',
    { class: check && !check.ok ? 'bad' : undefined },
    h(
      'div',
      { class: 'event-head' },
      h('span', { class: 'seq' }, `#${event.seq}`),
      h('strong', {}, event.type),
      time(event.at),
      h('span', { class: 'muted' }, `by ${event.actor}`),
      check
        ? h('span', { class: check.ok ? 'ok' : 'tag tag-overdue' }, check.ok ? '✔ hash ok' : `✘ ${check.problem}`)
        : null,
    ),
    data.length
      ? h(
          'dl',
          { class: 'event-data' },
          data.map(([k, v]) =>
            h('div', {}, h('dt', {}, k), h('dd', {}, typeof v === 'object' ? JSON.stringify(v) : String(v))),
          ),
        )
      : null,
    h('p', { class: 'hash mono small' }, `hash ${event.hash}`),
  );
}

/**
 * Saves a document exactly as the service served it: the view for `npm run verify-trail`, the receipt for
 * `npm run verify`.
 * @param {unknown} content
 * @param {string} name
 * @param {string} label
 */
function downloadButton(content, name, label) {
  return h(
    'button',
    {
      type: 'button',
      onclick: () => {
        const url = URL.createObjectURL(new Blob([JSON.stringify(content, null, 2)], { type: 'application/json' }));
        const link = h('a', { href: url, download: name });
        document.body.append(link);
        link.click();
        link.remove();
        setTimeout(() => URL.revokeObjectURL(url), 0);
      },
    },
    label,
  );
}
