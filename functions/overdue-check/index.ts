import { Metrics } from '@aws-lambda-powertools/metrics';
import { resolveSecret } from '#shared/aws/secrets';
import { createAuditStores, createDocumentClient } from '#shared/composition';
import { loadConfig } from '#shared/config';
import { SERVICE_NAME } from '#shared/observability';
import { makeHandler } from './handler.ts';

const config = await loadConfig(process.env, resolveSecret);
const { requests, clock } = createAuditStores(config, createDocumentClient(config));

export const handler = makeHandler({ requests, clock, metrics: new Metrics({ serviceName: SERVICE_NAME }) });
