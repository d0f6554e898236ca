import { apiKey } from './api-key.ts';
import { hubspot } from './hubspot.ts';
import type { ProfileName, SenderProfile } from './profile.ts';
import { typeform } from './typeform.ts';
import { zendesk } from './zendesk.ts';

/** Every sender profile by name: one file each, behind one interface. */
export const SENDER_PROFILES: Readonly<Record<ProfileName, SenderProfile>> = {
  zendesk,
  hubspot,
  typeform,
  'api-key': apiKey,
};
