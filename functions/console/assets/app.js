import { ApiError, checkToken, token } from './api.js';
import { h } from './dom.js';
import { renderLookup } from './lookup.js';
import { renderOverview } from './overview.js';
import { renderRequest } from './request-page.js';

/**
 * The console's shell: sign-in, the navigation and a hash router (`#/`, `#/requests/<id>`, `#/lookup`). The hash
 * only ever holds a request id, which is keyed and says nothing about the person.
 */

const main = /** @type {HTMLElement} */ (document.getElementById('main'));
const nav = /** @type {HTMLElement} */ (document.getElementById('nav'));
const REQUEST_ROUTE = /^#\/requests\/(er_[0-9a-f]{32})$/;

/** Shows a view in the main region and moves focus to its heading, as a page load would for a screen reader. */
function show(/** @type {Node[]} */ ...content) {
  main.replaceChildren(...content);
  const heading = main.querySelector('h1');
  if (heading) {
    heading.setAttribute('tabindex', '-1');
    heading.focus();
  }
}

/**
 * What an API failure means for the auditor: a refused token sends them back to sign in, with the reason.
 * @param {unknown} error
 * @returns {HTMLElement}
 */
export function failure(error) {
  if (error instanceof ApiError && error.tokenRefused) {
    token.clear();
    renderSignIn(error.message);
    return h('p');
  }
  const message = error instanceof Error ? error.message : String(error);
  return h('div', { class: 'notice error', role: 'alert' }, message);
}

/** @param {string} [message] why the auditor is asked (again) for a token */
function renderSignIn(message) {
  nav.hidden = true;
  const input = /** @type {HTMLInputElement} */ (
    h('input', {
      id: 'token',
      type: 'password',
      autocomplete: 'off',
      spellcheck: 'false',
      required: true,
      'aria-describedby': 'token-help',
    })
  );
  const error = h('p', { id: 'sign-in-error', class: 'notice error', role: 'alert', hidden: !message }, message);
  const button = h('button', { type: 'submit' }, 'Open the console');
  const form = h(
    'form',
    {
      class: 'card narrow',
      onsubmit: async (/** @type {Event} */ event) => {
        event.preventDefault();
        const candidate = input.value.trim();
        button.setAttribute('disabled', '');
        error.hidden = true;
        try {
          await checkToken(candidate);
          token.set(candidate);
          input.value = '';
          route();
        } catch (reason) {
          error.textContent = reason instanceof Error ? reason.message : String(reason);
          error.hidden = false;
          input.focus();
        } finally {
          button.removeAttribute('disabled');
        }
      },
    },
    h('label', { for: 'token' }, 'Audit token'),
    input,
    h(
      'p',
      { id: 'token-help', class: 'help' },
      'A value of AUDIT_TOKENS. It is kept in this tab only (session storage) until you sign out or close the tab.',
    ),
    button,
    error,
  );
  show(h('h1', {}, 'Sign in'), form);
  input.focus();
}

/** Renders the view the address asks for; without a token, the sign-in form. */
function route() {
  if (!token.get()) return renderSignIn();
  nav.hidden = false;
  const hash = window.location.hash;
  const page = hash === '#/lookup' ? '#/lookup' : REQUEST_ROUTE.test(hash) ? undefined : '#/';
  for (const link of nav.querySelectorAll('a')) {
    if (link.getAttribute('href') === page) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  const request = REQUEST_ROUTE.exec(hash);
  if (request) return renderRequest(/** @type {string} */ (request[1]), { show, failure });
  if (hash === '#/lookup') return renderLookup({ show, failure });
  return renderOverview({ show, failure });
}

document.getElementById('sign-out')?.addEventListener('click', () => {
  token.clear();
  window.location.hash = '#/';
  renderSignIn();
});
window.addEventListener('hashchange', route);
route();
