import { call } from './api.js';
import { badge, h, time } from './dom.js';

/** @typedef {{ show: (...nodes: Node[]) => void, failure: (error: unknown) => HTMLElement }} Shell */

/**
 * Finds a person's requests. The identifier goes in the body of one POST to the subject-lookup route and nowhere
 * else: the inputs have no `name` (a native submission, which the page's policy forbids anyway, would carry nothing),
 * the browser is asked not to remember them, and they are emptied once the answer is shown.
 * @param {Shell} shell
 */
export function renderLookup(shell) {
  const email = /** @type {HTMLInputElement} */ (
    h('input', { id: 'lookup-email', type: 'email', autocomplete: 'off', spellcheck: 'false' })
  );
  const externalId = /** @type {HTMLInputElement} */ (
    h('input', { id: 'lookup-external-id', type: 'text', autocomplete: 'off', spellcheck: 'false' })
  );
  const results = h('div', { 'aria-live': 'polite' });
  const form = h(
    'form',
    {
      class: 'card narrow',
      method: 'post',
      onsubmit: async (/** @type {Event} */ event) => {
        event.preventDefault();
        const body = {
          ...(email.value.trim() ? { email: email.value.trim() } : {}),
          ...(externalId.value.trim() ? { externalId: externalId.value.trim() } : {}),
        };
        if (!body.email && !body.externalId) {
          results.replaceChildren(
            h('p', { class: 'notice error', role: 'alert' }, 'Enter an email or an external id.'),
          );
          return;
        }
        results.replaceChildren(h('p', {}, 'Looking up…'));
        try {
          const found = await call('v1/subject-lookups', { method: 'POST', body });
          email.value = '';
          externalId.value = '';
          results.replaceChildren(...resultsOf(found));
        } catch (error) {
          results.replaceChildren(shell.failure(error));
        }
      },
    },
    h('label', { for: 'lookup-email' }, 'Email'),
    email,
    h('label', { for: 'lookup-external-id' }, 'External id'),
    externalId,
    h(
      'p',
      { class: 'help' },
      'Sent only in the body of one request to the service, which turns it into the pseudonym. It is not kept in this page’s address, history or storage, and the fields are emptied once the answer is shown.',
    ),
    h('button', { type: 'submit' }, 'Find requests'),
  );
  shell.show(h('h1', {}, 'Find a person’s requests'), form, results);
}

/** @param {any} found */
function resultsOf(found) {
  const requests = found?.requests ?? [];
  const pseudonyms = Object.entries(found?.pseudonyms ?? {});
  return [
    h('h2', {}, `${requests.length} request${requests.length === 1 ? '' : 's'} found`),
    pseudonyms.length
      ? h(
          'p',
          { class: 'small' },
          'Pseudonyms searched: ',
          pseudonyms.flatMap(([kind, value], i) => [
            i ? ', ' : '',
            `${kind} `,
            h('code', { class: 'break' }, String(value)),
          ]),
        )
      : null,
    requests.length
      ? h(
          'table',
          {},
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              ['Request', 'Reference', 'Status', 'Received', 'Due', 'Completed'].map((t) =>
                h('th', { scope: 'col' }, t),
              ),
            ),
          ),
          h(
            'tbody',
            {},
            requests.map((/** @type {any} */ r) =>
              h(
                'tr',
                {},
                h('td', {}, h('a', { href: `#/requests/${r.id}`, class: 'mono' }, r.id)),
                h('td', {}, r.reference ?? h('span', { class: 'muted' }, 'none')),
                h('td', {}, badge(r.status)),
                h('td', {}, time(r.receivedAt)),
                h('td', {}, time(r.dueAt)),
                h('td', {}, time(r.completedAt)),
              ),
            ),
          ),
        )
      : h('p', {}, 'No erasure request for this identifier.'),
  ].filter((n) => n !== null);
}
