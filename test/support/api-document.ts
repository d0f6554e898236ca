import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { loadApiDocument } from '#infra/api-document';

/**
 * Checks real HTTP responses against `docs/openapi.yaml`: the operation (method and path template), the status, the
 * media type, the declared headers and the body's JSON Schema (OpenAPI 3.1 schemas are JSON Schema 2020-12, checked
 * with Ajv). The test runtimes' HTTP clients send every response through here, so the document cannot drift from
 * what the service answers: an undocumented status, member or route fails the test that met it.
 */

// ajv-formats is CommonJS whose `exports.default` is the plugin: under Node's ESM interop it arrives one level down.
type AddFormats = (ajv: Ajv2020) => Ajv2020;
const addFormats = ((addFormatsModule as unknown as { default?: AddFormats }).default ??
  addFormatsModule) as unknown as AddFormats;

type Json = Record<string, unknown>;

const DOCUMENT_ID = 'urn:gdpr-erasure:openapi';
const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options', 'trace'] as const;

let cached: { document: Json; ajv: Ajv2020; validators: Map<string, ValidateFunction> } | undefined;

function state() {
  if (cached) return cached;
  const document = loadApiDocument();
  // `strict: false`: OpenAPI adds keywords of its own (`example`, `discriminator`, ...) that JSON Schema does not know;
  // the document's structure itself is checked by `npm run lint:openapi`.
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  // The whole document under one id: a schema is compiled by its location in it, so its `#/components/...` references
  // resolve against the document, as OpenAPI has them.
  ajv.addSchema({ ...document, $id: DOCUMENT_ID });
  cached = { document, ajv, validators: new Map() };
  return cached;
}

const escapePointer = (segment: string) => segment.replaceAll('~', '~0').replaceAll('/', '~1');

function at(document: Json, pointer: string): unknown {
  let node: unknown = document;
  for (const raw of pointer.split('/').slice(1)) {
    const segment = raw.replaceAll('~1', '/').replaceAll('~0', '~');
    node = node && typeof node === 'object' ? (node as Json)[segment] : undefined;
  }
  return node;
}

/** Follows a `$ref` to a component (responses, headers): returns the object and the pointer where it lives. */
function dereference(document: Json, pointer: string): { value: Json; pointer: string } {
  let current = pointer;
  for (let hops = 0; hops < 10; hops++) {
    const value = at(document, current) as Json | undefined;
    if (!value || typeof value !== 'object') throw new Error(`docs/openapi.yaml has nothing at ${current}`);
    const ref = value.$ref;
    if (typeof ref !== 'string') return { value, pointer: current };
    if (!ref.startsWith('#/')) throw new Error(`docs/openapi.yaml: only local references are supported (${ref})`);
    current = ref.slice(1);
  }
  throw new Error(`docs/openapi.yaml: reference loop at ${pointer}`);
}

function validatorAt(pointer: string): ValidateFunction {
  const { ajv, validators } = state();
  let validate = validators.get(pointer);
  if (!validate) {
    validate = ajv.compile({ $ref: `${DOCUMENT_ID}#${pointer}` });
    validators.set(pointer, validate);
  }
  return validate;
}

/** The document's path template that serves `path` (`/v1/erasure-requests/{id}` for `/v1/erasure-requests/er_…`). */
export function documentedPath(path: string): string | undefined {
  const paths = Object.keys((state().document.paths ?? {}) as Json);
  const segments = path.split('/');
  return paths.find((template) => {
    const parts = template.split('/');
    return (
      parts.length === segments.length &&
      parts.every((part, i) => (/^\{[^}]+\}$/.test(part) ? (segments[i] ?? '') !== '' : part === segments[i]))
    );
  });
}

export interface ObservedResponse {
  method: string;
  /** The request's path, without query string. */
  path: string;
  status: number;
  headers: Headers;
  body: string;
}

/**
 * What in a response the document does not describe, as readable lines (empty when it conforms).
 * A path no operation describes may only answer 404 or 405 (the local server's own answers for unknown routes).
 */
export function undocumentedIn(response: ObservedResponse): string[] {
  const { document } = state();
  const method = response.method.toLowerCase();
  const where = `${response.method} ${response.path} → ${response.status}`;
  const template = documentedPath(response.path);
  const operationPointer = template && `/paths/${escapePointer(template)}/${method}`;
  if (!operationPointer || !METHODS.includes(method as never) || !at(document, operationPointer)) {
    if (response.status === 404 || response.status === 405)
      return checkBody(where, '/components/schemas/Error', response);
    return [`${where}: no operation in docs/openapi.yaml serves ${response.method} ${response.path}`];
  }
  const responses = (at(document, `${operationPointer}/responses`) ?? {}) as Json;
  const key = [String(response.status), `${String(response.status)[0]}XX`, 'default'].find((k) => k in responses);
  if (!key) return [`${where}: status ${response.status} is not among the operation's responses in docs/openapi.yaml`];
  const { value: described, pointer } = dereference(document, `${operationPointer}/responses/${escapePointer(key)}`);
  const problems: string[] = [];

  for (const name of Object.keys((described.headers ?? {}) as Json)) {
    const { value: declared, pointer: declaredAt } = dereference(document, `${pointer}/headers/${escapePointer(name)}`);
    const actual = response.headers.get(name);
    if (actual === null) {
      if (declared.required) problems.push(`${where}: header ${name} is required by docs/openapi.yaml but missing`);
      continue;
    }
    if (declared.schema) {
      const validate = validatorAt(`${declaredAt}/schema`);
      if (!validate(actual)) problems.push(`${where}: header ${name}: ${describeErrors(validate)}`);
    }
  }

  const content = described.content as Json | undefined;
  if (!content) {
    if (response.body !== '') problems.push(`${where}: the document describes no body, but one was sent`);
    return problems;
  }
  const mediaType = (response.headers.get('content-type') ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  if (!(mediaType in content)) {
    return [...problems, `${where}: media type "${mediaType}" is not one of ${Object.keys(content).join(', ')}`];
  }
  return [...problems, ...checkBody(where, `${pointer}/content/${escapePointer(mediaType)}/schema`, response)];
}

function checkBody(where: string, schemaPointer: string, response: ObservedResponse): string[] {
  let body: unknown;
  try {
    body = JSON.parse(response.body);
  } catch {
    return [`${where}: the body is not JSON`];
  }
  const validate = validatorAt(schemaPointer);
  return validate(body) ? [] : [`${where}: body does not match ${schemaPointer}: ${describeErrors(validate)}`];
}

function describeErrors(validate: ValidateFunction): string {
  return (validate.errors ?? [])
    .map((e) => `${e.instancePath || '(root)'} ${e.message ?? ''}${e.params ? ` ${JSON.stringify(e.params)}` : ''}`)
    .join('; ');
}

/**
 * `fetch`, with the response checked against the document first.
 * @throws Error listing what the document does not describe
 */
export async function fetchDocumented(url: string | URL, init: RequestInit = {}): Promise<Response> {
  const response = await fetch(url, init);
  const body = await response.text();
  const problems = undocumentedIn({
    method: init.method ?? 'GET',
    path: new URL(url).pathname,
    status: response.status,
    headers: response.headers,
    body,
  });
  if (problems.length > 0) throw new Error(`Response not as docs/openapi.yaml describes it:\n${problems.join('\n')}`);
  return new Response(body === '' ? null : body, { status: response.status, headers: response.headers });
}
