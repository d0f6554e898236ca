import { readFileSync } from 'node:fs';
import { makeHandler } from './handler.ts';

// Written beside the bundle from docs/openapi.yaml when the function is bundled (see `infra/api-document.ts`), so the
// function ships JSON and no YAML parser. No configuration: the document's `servers` entry is the API's own address,
// as API Gateway reports it (a custom domain included); loading the config would triple the bundle for nothing.
const document = JSON.parse(readFileSync(new URL('./openapi.json', import.meta.url), 'utf8')) as Record<
  string,
  unknown
>;

export const handler = makeHandler({ document });
