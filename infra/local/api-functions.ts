/**
 * What the local runtime builds the API's routes from: each function's factory, as the stack deploys it, and the
 * adapters they are given. The runtime loads this module only once its start can no longer be refused, and in
 * `npm start` while the DynamoDB and workflow threads start: a start refused for a setting, a held DATA_DIR, a taken
 * port or a broken secrets file then ends without loading the functions, the AWS SDK and the provider clients (half
 * of the 1 s of CPU such a refusal took).
 */
export { makeHandler as apiDocument } from '#functions/api-document/handler';
export { makeHandler as cancelRequest } from '#functions/cancel-request/handler';
export { makeHandler as consoleFiles } from '#functions/console/handler';
export { loadStaticFiles } from '#functions/console/static-files';
export { makeHandler as evidence } from '#functions/evidence/handler';
export { makeHandler as extendRequest } from '#functions/extend-request/handler';
export { makeHandler as getRequest } from '#functions/get-request/handler';
export { makeHandler as intake } from '#functions/intake/handler';
export { makeHandler as listRequests } from '#functions/list-requests/handler';
export { makeHandler as senderIntake } from '#functions/sender-intake/handler';
export { makeHandler as subjectLookup } from '#functions/subject-lookup/handler';
export { makeHandler as suppressionCheck } from '#functions/suppression-check/handler';
// The cancel route's FirstPromoter client (restoring promoters a request archived) is built at its first call, as in
// the deployed cancel-request function: a start loads no provider client, axios or response schemas on this thread.
export { firstPromoterOnFirstCall } from '#shared/composition/on-demand/firstpromoter';
export {
  createAuditStores,
  createDocumentClient,
  createIdentityCipher,
  createTransparencyLog,
} from '#shared/composition/stores';
export { startLocalDynamo } from './dynamodb.ts';
