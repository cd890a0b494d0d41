import {
  isSiteApiChannel,
  siteApiContract,
  type SiteApiChannel,
  type SiteApiErrorBody,
  type SiteApiInput,
  type SiteApiOutput,
} from '../../core/site-api/contract.js';
import type { SiteAgent } from './site-agent.js';

type Handlers = {
  [C in SiteApiChannel]: (agent: SiteAgent, input: SiteApiInput<C>) => Promise<SiteApiOutput<C>>;
};

const handlers: Handlers = {
  'status.get': (agent) => agent.status(),
  'enrollment.enroll': (agent, input) => agent.enroll(input.link),
  'federation.get': (agent) => agent.requireFederation().view(),
  'federation.setParticipation': async (agent, input) => {
    await agent.requireFederation().setParticipation(input);
    return agent.requireFederation().view();
  },
  'federation.approveRoster': async (agent, input) => {
    await agent.requireFederation().approveRoster(input.siteIds);
    return agent.requireFederation().view();
  },
  'audit.list': (agent, input) => agent.storeRemote.auditLog(input.offset, input.limit),
};

export type SiteApiResult = { ok: true; value: unknown } | ({ ok: false } & SiteApiErrorBody);

/**
 * The one entry point for SiteApi calls from any transport: the channel must exist and the input must
 * match its schema before any handler runs; errors come back as `{code, message}` for the UI.
 */
export async function handleSiteApiCall(
  agent: SiteAgent,
  channel: unknown,
  input: unknown,
): Promise<SiteApiResult> {
  if (!isSiteApiChannel(channel))
    return {
      ok: false,
      error: { code: 'unknown_channel', message: `unknown SiteApi channel ${String(channel)}` },
    };
  const parsed = siteApiContract[channel].input.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return {
      ok: false,
      error: {
        code: 'invalid_input',
        message: `invalid input for ${channel}: ${issue?.path.join('.') || 'input'} ${issue?.message}`,
      },
    };
  }
  try {
    const handler = handlers[channel] as (agent: SiteAgent, input: unknown) => Promise<unknown>;
    return { ok: true, value: await handler(agent, parsed.data) };
  } catch (error) {
    return {
      ok: false,
      error: { code: (error as Error).name || 'error', message: (error as Error).message },
    };
  }
}
