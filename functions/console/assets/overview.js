import { listRequests } from './api.js';
import { badge, h, svg, time } from './dom.js';
import { formatDuration, openRequests, outcomesPerProvider, STATUSES, statusSeries, timeToComplete } from './stats.js';

/**
 * @typedef {{ show: (...nodes: Node[]) => void, failure: (error: unknown) => HTMLElement }} Shell
 * @typedef {import('./stats.js').RequestSummary} RequestSummary
 */

/** The filters stay for this tab's visit only: they are in memory, not in the address or any storage. */
const filters = { status: '', from: '', to: '', reference: '' };

/** @param {Shell} shell */
export async function renderOverview(shell) {
  const results = h('div', { 'aria-live': 'polite', 'aria-busy': 'true' }, h('p', {}, 'Loading requests…'));
  shell.show(h('h1', {}, 'Overview'), filterForm(shell), results, openById());
  try {
    const period = {
      ...(filters.status ? { status: filters.status } : {}),
      ...(filters.from ? { from: new Date(`${filters.from}T00:00:00Z`).toISOString() } : {}),
      ...(filters.to ? { to: new Date(`${filters.to}T23:59:59.999Z`).toISOString() } : {}),
    };
    const listed = await listRequests(period);
    if (!listed.available) {
      results.replaceChildren(
        h(
          'div',
          { class: 'notice', role: 'status' },
          'This service has no request list (GET /v1/erasure-requests), so the overview cannot be drawn. ',
          'Open a request by its id below, or find a person’s requests.',
        ),
      );
      return;
    }
    const wanted = filters.reference.trim().toLowerCase();
    /** @type {RequestSummary[]} */
    const requests = listed.requests.filter(
      (r) =>
        (!wanted || (r.reference ?? '').toLowerCase().includes(wanted)) &&
        (!filters.status || r.status === filters.status),
    );
    results.replaceChildren(...overviewOf(requests, listed.truncated, period));
  } catch (error) {
    results.replaceChildren(shell.failure(error));
  } finally {
    results.setAttribute('aria-busy', 'false');
  }
}

/** @param {Shell} shell */
function filterForm(shell) {
  /** @param {'from' | 'to' | 'reference'} name @param {string} label @param {string} type */
  const field = (name, label, type) =>
    h(
      'div',
      { class: 'field' },
      h('label', { for: `filter-${name}` }, label),
      h('input', {
        id: `filter-${name}`,
        type,
        value: filters[name],
        autocomplete: 'off',
        oninput: (/** @type {Event} */ e) => {
          filters[name] = /** @type {HTMLInputElement} */ (e.target).value;
        },
      }),
    );
  const status = h(
    'select',
    {
      id: 'filter-status',
      onchange: (/** @type {Event} */ e) => {
        filters.status = /** @type {HTMLSelectElement} */ (e.target).value;
      },
    },
    h('option', { value: '' }, 'any status'),
    STATUSES.map((s) => h('option', { value: s, selected: s === filters.status }, s.replace(/_/g, ' '))),
  );
  return h(
    'form',
    {
      class: 'filters',
      'aria-label': 'Filter the requests',
      onsubmit: (/** @type {Event} */ event) => {
        event.preventDefault();
        renderOverview(shell);
      },
    },
    h('div', { class: 'field' }, h('label', { for: 'filter-status' }, 'Status'), status),
    field('from', 'Received from', 'date'),
    field('to', 'Received to', 'date'),
    field('reference', 'Reference contains', 'search'),
    h('button', { type: 'submit' }, 'Apply filters'),
  );
}

/** A form to open one request by its id, which works whatever the API lists. */
function openById() {
  const input = /** @type {HTMLInputElement} */ (
    h('input', { id: 'open-id', pattern: 'er_[0-9a-f]{32}', required: true, autocomplete: 'off', size: 38 })
  );
  return h(
    'form',
    {
      class: 'card',
      onsubmit: (/** @type {Event} */ event) => {
        event.preventDefault();
        window.location.hash = `#/requests/${input.value.trim()}`;
      },
    },
    h('h2', {}, 'Open a request'),
    h('label', { for: 'open-id' }, 'Request id (er_ and 32 hex digits)'),
    input,
    h('button', { type: 'submit' }, 'Open'),
  );
}

/**
 * @param {RequestSummary[]} requests
 * @param {boolean} truncated
 * @param {{ from?: string, to?: string }} period
 */
function overviewOf(requests, truncated, period) {
  const now = new Date();
  const open = openRequests(requests, now);
  const times = timeToComplete(requests);
  const overdue = open.filter((o) => o.overdue).length;
  const figures = h(
    'dl',
    { class: 'figures' },
    figure('Requests', String(requests.length)),
    figure('Open', String(open.length)),
    figure('Open and overdue', String(overdue), overdue > 0 ? 'alert' : ''),
    figure('Median time to complete', times.median === undefined ? '—' : formatDuration(times.median)),
    figure('95th percentile', times.p95 === undefined ? '—' : formatDuration(times.p95)),
  );
  return [
    truncated
      ? h('p', { class: 'notice', role: 'status' }, `Showing the first ${requests.length} requests: narrow the period.`)
      : null,
    figures,
    h(
      'p',
      { class: 'help' },
      `Time to complete: from receipt to the end, over the ${times.count} request(s) that ended completed, partially completed or failed; median, and 95th percentile by nearest rank.`,
    ),
    h('section', { 'aria-labelledby': 'chart-title' }, statusChart(requests, period)),
    h(
      'section',
      { 'aria-labelledby': 'open-title' },
      h('h2', { id: 'open-title' }, 'Open requests by due date'),
      openTable(open),
    ),
    h('section', { 'aria-labelledby': 'outcomes-title' }, outcomesTable(requests)),
  ].filter((node) => node !== null);
}

/** @param {string} term @param {string} value @param {string} [tone] */
const figure = (term, value, tone = '') => h('div', { class: `figure ${tone}` }, h('dt', {}, term), h('dd', {}, value));

/** @param {ReturnType<typeof openRequests>} open */
function openTable(open) {
  if (open.length === 0) return h('p', {}, 'No open requests.');
  return h(
    'table',
    {},
    h('caption', { class: 'visually-hidden' }, 'Open requests, the nearest deadline first'),
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        ['Reference', 'Request', 'Status', 'Received', 'Due', 'Days left'].map((t) => h('th', { scope: 'col' }, t)),
      ),
    ),
    h(
      'tbody',
      {},
      open.map(({ request, overdue, extended, daysLeft }) =>
        h(
          'tr',
          { class: [overdue ? 'overdue' : '', extended ? 'extended' : ''].join(' ').trim() || undefined },
          h('td', {}, request.reference ?? h('span', { class: 'muted' }, 'none')),
          h('td', {}, h('a', { href: `#/requests/${request.id}`, class: 'mono' }, request.id)),
          h('td', {}, badge(request.status)),
          h('td', {}, time(request.receivedAt)),
          h('td', {}, time(request.dueAt), extended ? h('span', { class: 'tag' }, 'extended') : null),
          h(
            'td',
            {},
            overdue
              ? h('strong', { class: 'tag tag-overdue' }, `overdue by ${-daysLeft} day${daysLeft === -1 ? '' : 's'}`)
              : daysLeft === 0
                ? 'less than a day'
                : `${daysLeft} day${daysLeft === 1 ? '' : 's'}`,
          ),
        ),
      ),
    ),
  );
}

/** @param {RequestSummary[]} requests */
function outcomesTable(requests) {
  const { rows, outcomes } = outcomesPerProvider(requests);
  const title = h('h2', { id: 'outcomes-title' }, 'Outcomes per provider');
  if (rows.length === 0) return h('div', {}, title, h('p', {}, 'No provider actions recorded yet.'));
  return h(
    'div',
    {},
    title,
    h(
      'table',
      {},
      h('caption', { class: 'visually-hidden' }, 'Number of actions per outcome, per provider and action'),
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          h('th', { scope: 'col' }, 'Provider'),
          h('th', { scope: 'col' }, 'Action'),
          outcomes.map((o) => h('th', { scope: 'col', class: 'num' }, o.replace(/_/g, ' '))),
        ),
      ),
      h(
        'tbody',
        {},
        rows.map((row) =>
          h(
            'tr',
            {},
            h('th', { scope: 'row' }, row.provider),
            h('td', {}, row.action.replace(/_/g, ' ')),
            outcomes.map((o) => h('td', { class: 'num' }, String(row.outcomes[o] ?? 0))),
          ),
        ),
      ),
    ),
  );
}

/**
 * Stacked bars of requests received per day (or week), by current status; the same figures as a table for screen
 * readers and for copying.
 * @param {RequestSummary[]} requests
 * @param {{ from?: string, to?: string }} period
 */
function statusChart(requests, period) {
  const { unit, buckets } = statusSeries(requests, {
    ...(period.from ? { from: new Date(period.from) } : {}),
    ...(period.to ? { to: new Date(period.to) } : {}),
  });
  const title = h('h2', { id: 'chart-title' }, `Requests received per ${unit}, by status`);
  if (buckets.length === 0) return h('div', {}, title, h('p', {}, 'No requests in this period.'));
  const present = STATUSES.filter((s) => buckets.some((b) => b.counts[s]));
  const max = Math.max(...buckets.map((b) => b.total), 1);
  const width = 720;
  const height = 200;
  const left = 32;
  const bottom = 24;
  const slot = (width - left) / buckets.length;
  const bar = Math.max(2, Math.min(40, slot * 0.7));
  const scale = (height - bottom - 8) / max;
  const bars = buckets.flatMap((bucket, index) => {
    let y = height - bottom;
    const x = left + index * slot + (slot - bar) / 2;
    return present
      .filter((status) => bucket.counts[status])
      .map((status) => {
        const count = bucket.counts[status] ?? 0;
        y -= count * scale;
        return svg(
          'rect',
          { x, y, width: bar, height: count * scale, class: `fill-${status}` },
          svg('title', {}, `${bucket.start}: ${count} ${status.replace(/_/g, ' ')}`),
        );
      });
  });
  const labelEvery = Math.ceil(buckets.length / 8);
  const labels = buckets.map((bucket, index) =>
    index % labelEvery
      ? null
      : svg(
          'text',
          { x: left + index * slot + slot / 2, y: height - 6, class: 'axis', 'text-anchor': 'middle' },
          bucket.start.slice(5),
        ),
  );
  const chart = svg(
    'svg',
    { viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-labelledby': 'chart-title chart-desc', class: 'chart' },
    svg('desc', { id: 'chart-desc' }, `${requests.length} requests; the table below gives each ${unit}'s counts.`),
    svg('line', { x1: left, x2: width, y1: height - bottom, y2: height - bottom, class: 'axis-line' }),
    svg('text', { x: left - 6, y: 14, class: 'axis', 'text-anchor': 'end' }, String(max)),
    svg('text', { x: left - 6, y: height - bottom, class: 'axis', 'text-anchor': 'end' }, '0'),
    bars,
    labels,
  );
  const legend = h(
    'ul',
    { class: 'legend' },
    present.map((s) =>
      h('li', {}, h('span', { class: `swatch fill-${s}`, 'aria-hidden': 'true' }), s.replace(/_/g, ' ')),
    ),
  );
  const table = h(
    'details',
    {},
    h('summary', {}, `The chart's figures per ${unit}`),
    h(
      'table',
      {},
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          h('th', { scope: 'col' }, unit === 'week' ? 'Week of' : 'Day'),
          present.map((s) => h('th', { scope: 'col', class: 'num' }, s.replace(/_/g, ' '))),
        ),
      ),
      h(
        'tbody',
        {},
        buckets
          .filter((b) => b.total)
          .map((b) =>
            h(
              'tr',
              {},
              h('th', { scope: 'row' }, b.start),
              present.map((s) => h('td', { class: 'num' }, String(b.counts[s] ?? 0))),
            ),
          ),
      ),
    ),
  );
  return h('div', {}, title, chart, legend, table);
}
