import { randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { type RouteContext, type SimResponse, SimulatorHarness } from './harness.ts';

/**
 * An in-memory Referral Rock for tests and local runs, on a real HTTP server. It follows the documented behaviour of the
 * endpoints the erasure service calls (see shared/providers/PROVIDER-APIS.md and the seed pages); every behaviour the
 * documentation leaves open is marked ASSUMPTION where it is decided.
 */

export interface ReferralRockProgram {
  id: string;
  name: string;
  title: string;
}

export interface ReferralRockSimMember {
  id: string;
  displayName: string;
  firstName: string | null;
  lastName: string | null;
  email: string | null;
  phone: string | null;
  externalIdentifier: string | null;
  programId: string;
  programName: string;
  programTitle: string;
  referralCode: string;
  referralUrl: string;
  disabledFlag: boolean;
  createDate: string;
}

export type ReferralRockReferralStatus = 'pending' | 'qualified' | 'approved' | 'denied';

export interface ReferralRockSimReferral {
  id: string;
  firstName: string | null;
  lastName: string | null;
  fullName: string;
  email: string | null;
  phoneNumber: string | null;
  externalIdentifier: string | null;
  programId: string;
  programName: string;
  referringMemberId: string | null;
  referringMemberName: string | null;
  memberEmail: string | null;
  /**
   * ASSUMPTION: the "referral code" a referral search matches [client] is the referring member's code (the link the
   * referral came through); referrals carry no code of their own in the documented fields.
   */
  referralCode: string | null;
  status: ReferralRockReferralStatus;
  createDate: string;
}

/**
 * How `query` is compared. `equals` is the documented behaviour ("query must equal"); `contains` lets tests prove the
 * client's own exact-match filter, in case the real search is looser than documented.
 */
export type SearchMatch = 'equals' | 'contains';

/**
 * How emails compare, in searches and removes. ASSUMPTION: undocumented. `insensitive` (the default) ignores case;
 * `sensitive` compares emails exactly as stored, so `Jane.Doe@Example.com` is not found as `jane.doe@example.com`, nor
 * `jane@bücher.example` as `jane@xn--bcher-kva.example` (emails are stored as given, Unicode or punycode domains alike).
 */
export type EmailCase = 'insensitive' | 'sensitive';

export interface ReferralRockSimulatorOptions {
  publicKey?: string;
  privateKey?: string;
  searchMatch?: SearchMatch;
  emailCase?: EmailCase;
}

/** `count`'s documented default: effectively "everything". */
const DEFAULT_COUNT = 2_147_483_647;

const REQUIRES_QUERY = 'Query requires primaryInfo or both secondaryInfo and tertiaryInfo';

type RemoveItemResult = { query: unknown; resultInfo: { Status: string; Message: string } };

export class ReferralRockSimulator {
  readonly harness: SimulatorHarness;
  readonly #programs: ReferralRockProgram[] = [];
  #members: ReferralRockSimMember[] = [];
  #referrals: ReferralRockSimReferral[] = [];
  #searchMatch: SearchMatch;
  #emailCase: EmailCase;
  readonly #initialEmailCase: EmailCase;

  constructor(options: ReferralRockSimulatorOptions = {}) {
    const expected = `${options.publicKey ?? 'demo-public'}:${options.privateKey ?? 'demo-private'}`;
    this.#searchMatch = options.searchMatch ?? 'equals';
    this.#initialEmailCase = options.emailCase ?? 'insensitive';
    this.#emailCase = this.#initialEmailCase;
    this.harness = new SimulatorHarness({
      name: 'Referral Rock',
      basePath: '',
      authorize: (headers) => basicCredentials(headers) === expected,
      // ASSUMPTION: bodies of 401, 429 and 404 are undocumented; these are ASP.NET Web API's stock answers.
      unauthorizedBody: { Message: 'Authorization has been denied for this request.' },
      rateLimitedBody: { message: 'Too many requests' },
      notFoundBody: { Message: 'No HTTP resource was found that matches the request URI.' },
      routes: [
        { method: 'GET', pattern: '/api/members', handler: (ctx) => this.#searchMembers(ctx) },
        { method: 'GET', pattern: '/api/referrals', handler: (ctx) => this.#searchReferrals(ctx) },
        { method: 'DELETE', pattern: '/api/members/remove', handler: (ctx) => this.#removeMembers(ctx) },
        // Documented as well as DELETE; same behaviour.
        { method: 'POST', pattern: '/api/members/remove', handler: (ctx) => this.#removeMembers(ctx) },
        { method: 'POST', pattern: '/api/referral/remove', handler: (ctx) => this.#removeReferrals(ctx) },
      ],
    });
  }

  /** Starts listening (port 0 = ephemeral) and returns the base URL, e.g. `http://127.0.0.1:PORT`. */
  start(port = 0): Promise<string> {
    return this.harness.start(port);
  }

  stop(): Promise<void> {
    return this.harness.stop();
  }

  setSearchMatch(mode: SearchMatch): void {
    this.#searchMatch = mode;
  }

  setEmailCase(mode: EmailCase): void {
    this.#emailCase = mode;
  }

  /**
   * Forgets every program, member, referral and recorded request, and restores the documented search and the email
   * comparison the simulator was built with.
   */
  reset(): void {
    this.#programs.length = 0;
    this.#members = [];
    this.#referrals = [];
    this.#searchMatch = 'equals';
    this.#emailCase = this.#initialEmailCase;
    this.harness.clearRequests();
    this.harness.setRateLimit(undefined);
  }

  addProgram(input: { id?: string; name: string; title?: string }): ReferralRockProgram {
    const program = { id: input.id ?? randomUUID(), name: input.name, title: input.title ?? input.name };
    this.#programs.push(program);
    return { ...program };
  }

  /** Adds a member; without `programId` it joins a default program. Returns the stored record. */
  addMember(input: Partial<ReferralRockSimMember> = {}): ReferralRockSimMember {
    const program = this.#programFor(input.programId);
    const firstName = input.firstName ?? 'Test';
    const lastName = input.lastName ?? 'Member';
    const referralCode = input.referralCode ?? randomBytes(4).toString('hex').toUpperCase();
    const member: ReferralRockSimMember = {
      id: randomUUID(),
      displayName: [firstName, lastName].filter(Boolean).join(' '),
      firstName,
      lastName,
      email: null,
      phone: null,
      externalIdentifier: null,
      programId: program.id,
      programName: program.name,
      programTitle: program.title,
      referralCode,
      referralUrl: `https://demo.referralrock.com/l/${referralCode}/`,
      disabledFlag: false,
      createDate: new Date().toISOString(),
      ...withoutUndefined(input),
    };
    this.#members.push(member);
    return { ...member };
  }

  /**
   * Adds a referral. With `referringMemberId` of a stored member, the referrer's name, email, code and program are filled
   * in from that member.
   */
  addReferral(input: Partial<ReferralRockSimReferral> = {}): ReferralRockSimReferral {
    const referrer = this.#members.find((m) => m.id === input.referringMemberId);
    const program = this.#programFor(input.programId ?? referrer?.programId);
    const firstName = input.firstName ?? 'Referred';
    const lastName = input.lastName ?? 'Friend';
    const referral: ReferralRockSimReferral = {
      id: randomUUID(),
      firstName,
      lastName,
      fullName: [firstName, lastName].filter(Boolean).join(' '),
      email: null,
      phoneNumber: null,
      externalIdentifier: null,
      programId: program.id,
      programName: program.name,
      referringMemberId: referrer?.id ?? null,
      referringMemberName: referrer?.displayName ?? null,
      memberEmail: referrer?.email ?? null,
      referralCode: referrer?.referralCode ?? null,
      status: 'pending',
      createDate: new Date().toISOString(),
      ...withoutUndefined(input),
    };
    this.#referrals.push(referral);
    return { ...referral };
  }

  /** Current members, as copies. */
  members(): ReferralRockSimMember[] {
    return this.#members.map((m) => ({ ...m }));
  }

  /** Current referrals, as copies. */
  referrals(): ReferralRockSimReferral[] {
    return this.#referrals.map((r) => ({ ...r }));
  }

  programs(): ReferralRockProgram[] {
    return this.#programs.map((p) => ({ ...p }));
  }

  #programFor(programId: string | undefined): ReferralRockProgram {
    const known = this.#programs.find((p) => p.id === programId);
    if (known) return known;
    if (programId !== undefined) return this.addProgram({ id: programId, name: `Program ${programId.slice(0, 8)}` });
    return this.#programs[0] ?? this.addProgram({ name: 'Default Program', title: 'Refer a Friend' });
  }

  #matches(value: string | null, query: string, caseInsensitive: boolean): boolean {
    if (value === null) return false;
    const [a, q] = caseInsensitive ? [value.toLowerCase(), query.toLowerCase()] : [value, query];
    return this.#searchMatch === 'contains' ? a.includes(q) : a === q;
  }

  #sameEmail(a: string | null, b: string): boolean {
    if (a === null) return false;
    return this.#emailCase === 'insensitive'
      ? a.trim().toLowerCase() === b.trim().toLowerCase()
      : a.trim() === b.trim();
  }

  /** `programId` filters by a program's id, name or title [doc]. ASSUMPTION: names and titles case-insensitively. */
  #inProgram(programId: string, filter: string | null): boolean {
    if (filter === null || filter === '') return true;
    const program = this.#programs.find((p) => p.id === programId);
    if (!program) return false;
    const lower = filter.toLowerCase();
    return sameId(program.id, filter) || program.name.toLowerCase() === lower || program.title.toLowerCase() === lower;
  }

  #searchMembers(ctx: RouteContext): SimResponse {
    const paging = parsePaging(ctx.query);
    if ('error' in paging) return paging.error;
    const query = ctx.query.get('query');
    // ASSUMPTION: emails compare as `emailCase` says, ids by GUID rules (case-insensitive), the rest exactly.
    const emailIgnoresCase = this.#emailCase === 'insensitive';
    const matched = this.#members.filter(
      (m) =>
        this.#inProgram(m.programId, ctx.query.get('programId')) &&
        (query === null ||
          query === '' ||
          this.#matches(m.email, query, emailIgnoresCase) ||
          this.#matches(m.id, query, true) ||
          this.#matches(m.externalIdentifier, query, false) ||
          this.#matches(m.referralCode, query, false)),
    );
    return {
      status: 200,
      // ASSUMPTION: `message` is null when there is nothing to report.
      body: { members: page(matched, paging), offset: paging.offset, total: matched.length, message: null },
    };
  }

  #searchReferrals(ctx: RouteContext): SimResponse {
    const paging = parsePaging(ctx.query);
    if ('error' in paging) return paging.error;
    const query = ctx.query.get('query');
    const memberId = ctx.query.get('memberId');
    const status = ctx.query.get('status');
    const emailIgnoresCase = this.#emailCase === 'insensitive';
    const matched = this.#referrals.filter(
      (r) =>
        this.#inProgram(r.programId, ctx.query.get('programId')) &&
        (!memberId || (r.referringMemberId !== null && sameId(r.referringMemberId, memberId))) &&
        (!status || r.status === status.toLowerCase()) &&
        (query === null ||
          query === '' ||
          this.#matches(r.email, query, emailIgnoresCase) ||
          this.#matches(r.id, query, true) ||
          this.#matches(r.externalIdentifier, query, false) ||
          this.#matches(r.referralCode, query, false) ||
          // ASSUMPTION: a search on the referrer's email or id also returns the referrals they made. The docs do not
          // rule it out, and a client that trusted the search would then erase the referred friends' records.
          this.#matches(r.memberEmail, query, emailIgnoresCase) ||
          this.#matches(r.referringMemberId, query, true)),
    );
    return {
      status: 200,
      body: { referrals: page(matched, paging), offset: paging.offset, total: matched.length, message: null },
    };
  }

  #removeMembers(ctx: RouteContext): SimResponse {
    return removeEach(ctx, 'member', (query) => {
      const primary = pick(query.primaryInfo, ['memberId', 'referralCode']);
      const secondary = pick(query.secondaryInfo, ['externalIdentifier', 'email']);
      const tertiary = pick(query.tertiaryInfo, ['programId', 'programName', 'programTitle']);
      let candidates: ReferralRockSimMember[];
      if (primary) {
        candidates = this.#members.filter(
          (m) =>
            (primary.memberId === undefined || sameId(m.id, primary.memberId)) &&
            (primary.referralCode === undefined || m.referralCode === primary.referralCode),
        );
      } else if (secondary && tertiary) {
        candidates = this.#members.filter(
          (m) =>
            (secondary.externalIdentifier === undefined || m.externalIdentifier === secondary.externalIdentifier) &&
            (secondary.email === undefined || this.#sameEmail(m.email, secondary.email)) &&
            (tertiary.programId === undefined || sameId(m.programId, tertiary.programId)) &&
            (tertiary.programName === undefined || sameText(m.programName, tertiary.programName)) &&
            (tertiary.programTitle === undefined || sameText(m.programTitle, tertiary.programTitle)),
        );
      } else {
        return undefined;
      }
      if (candidates.length === 1) this.#members = this.#members.filter((m) => m !== candidates[0]);
      return candidates.length;
    });
  }

  #removeReferrals(ctx: RouteContext): SimResponse {
    return removeEach(ctx, 'referral', (query) => {
      const primary = pick(query.primaryInfo, ['referralId']);
      const secondary = pick(query.secondaryInfo, ['externalIdentifier', 'email', 'phoneNumber']);
      // The referral variant spells the program keys in PascalCase [doc]. The real (.NET) API may bind keys
      // case-insensitively; this simulator reads only the documented spelling, so a client sending the other one fails here.
      const tertiary = pick(query.tertiaryInfo, ['ProgramId', 'ProgramName', 'ProgramTitle']);
      let candidates: ReferralRockSimReferral[];
      if (primary) {
        candidates = this.#referrals.filter(
          (r) => primary.referralId !== undefined && sameId(r.id, primary.referralId),
        );
      } else if (secondary && tertiary) {
        candidates = this.#referrals.filter(
          (r) =>
            (secondary.externalIdentifier === undefined || r.externalIdentifier === secondary.externalIdentifier) &&
            (secondary.email === undefined || this.#sameEmail(r.email, secondary.email)) &&
            (secondary.phoneNumber === undefined || r.phoneNumber === secondary.phoneNumber) &&
            (tertiary.ProgramId === undefined || sameId(r.programId, tertiary.ProgramId)) &&
            (tertiary.ProgramName === undefined || sameText(r.programName, tertiary.ProgramName)) &&
            (tertiary.ProgramTitle === undefined ||
              sameText(this.#programs.find((p) => p.id === r.programId)?.title ?? null, tertiary.ProgramTitle)),
        );
      } else {
        return undefined;
      }
      if (candidates.length === 1) this.#referrals = this.#referrals.filter((r) => r !== candidates[0]);
      return candidates.length;
    });
  }
}

/**
 * Runs each query of a remove request in order and answers one result per query, echoing it [doc].
 * `resolve` deletes when exactly one record matches and returns how many matched, or undefined for an incomplete query.
 * ASSUMPTION: a failed item is `Status: "Failure"` with a reason in `Message`, still inside a 200. Messages never repeat
 * the query's values (they may be an email).
 */
function removeEach(
  ctx: RouteContext,
  noun: 'member' | 'referral',
  resolve: (query: Record<string, unknown>) => number | undefined,
): SimResponse {
  if (!Array.isArray(ctx.body)) {
    // ASSUMPTION: a body that is not an array is rejected whole with a 400 and a message.
    return { status: 400, body: { message: 'The request body must be an array of remove queries.' } };
  }
  const capitalized = noun === 'member' ? 'Member' : 'Referral';
  const results: RemoveItemResult[] = ctx.body.map((item: unknown) => {
    const query = isRecord(item) ? item.query : undefined;
    const echo = query ?? null;
    const fail = (Message: string) => ({ query: echo, resultInfo: { Status: 'Failure', Message } });
    if (!isRecord(query)) return fail(REQUIRES_QUERY);
    const matched = resolve(query);
    if (matched === undefined) return fail(REQUIRES_QUERY);
    if (matched === 0) return fail(`${capitalized} not found`);
    if (matched > 1) return fail(`Query matched more than one ${noun}`);
    // ASSUMPTION: the success Message text is undocumented.
    return { query: echo, resultInfo: { Status: 'Success', Message: `${capitalized} removed` } };
  });
  return { status: 200, body: results };
}

/** The non-empty string fields `keys` of `value`, or undefined when it has none ("a valid value" [doc]). */
function pick<K extends string>(value: unknown, keys: readonly K[]): Partial<Record<K, string>> | undefined {
  if (!isRecord(value)) return undefined;
  const picked: Partial<Record<K, string>> = {};
  for (const key of keys) {
    const field = value[key];
    if (typeof field === 'string' && field.trim() !== '') picked[key] = field;
  }
  return Object.keys(picked).length > 0 ? picked : undefined;
}

function parsePaging(query: URLSearchParams): { offset: number; count: number } | { error: SimResponse } {
  const offset = query.get('offset') ?? '0';
  const count = query.get('count') ?? String(DEFAULT_COUNT);
  if (!/^\d+$/.test(offset) || !/^\d+$/.test(count)) {
    // ASSUMPTION: invalid paging is a 400 with a message.
    return { error: { status: 400, body: { message: 'offset and count must be non-negative integers' } } };
  }
  return { offset: Number(offset), count: Number(count) };
}

function page<T>(records: T[], paging: { offset: number; count: number }): T[] {
  return records.slice(paging.offset, paging.offset + paging.count);
}

function basicCredentials(headers: IncomingMessage['headers']): string | undefined {
  const match = /^Basic\s+(\S+)$/i.exec(headers.authorization ?? '');
  return match?.[1] === undefined ? undefined : Buffer.from(match[1], 'base64').toString('utf8');
}

/** Drops keys set to undefined, so `{ programId: undefined }` keeps the default rather than erasing it. */
function withoutUndefined<T extends object>(input: T): Partial<T> {
  return Object.fromEntries(Object.entries(input).filter(([, value]) => value !== undefined)) as Partial<T>;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** GUIDs compare case-insensitively. */
function sameId(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

function sameText(a: string | null, b: string): boolean {
  return a !== null && a.toLowerCase() === b.toLowerCase();
}
