import {
  isSiteApiChannel,
  siteApiContract,
  type SiteApiChannel,
  type SiteApiErrorBody,
  type SiteApiInput,
  type SiteApiOutput,
} from '../../core/site-api/contract.js';
import { SYNTHRAD_PRESETS } from '../../core/data/synthrad.js';
import type { SiteDataService } from '../data/site-data-service.js';
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
  'federation.approveConfig': async (agent, input) => {
    await agent.requireFederation().approveConfig(input.federationId, input.configHash);
    return agent.requireFederation().view();
  },
  'federation.setPolicy': async (agent, input) => {
    await agent.requireFederation().setPolicy(input);
    return agent.requireFederation().view();
  },
  'audit.list': (agent, input) => agent.storeRemote.auditLog(input.offset, input.limit),
  'data.counts': (agent) => agent.data.counts(),
  'data.import': (agent, input) => agent.importJobs.importDataset(input),
  'data.synth': (agent, input) => agent.importJobs.generateSynthRad(input),
  'data.cancelImport': async (agent, input) => ({ cancelled: agent.importJobs.cancel(input.jobId) }),
  'data.jobs': async (agent) => agent.importJobs.active(),
  'data.synthPresets': async () =>
    Object.entries(SYNTHRAD_PRESETS).map(([name, { description }]) => ({ name, description })),
  'data.records': async (agent, { thumbnails = true, ...query }) => {
    const page = await agent.data.listRecords(query);
    return {
      ...page,
      thumbnails: thumbnails
        ? await thumbnailsOf(
            agent.data,
            page.rows.map((row) => row.imageId),
          )
        : {},
    };
  },
  'data.images': async (agent, { thumbnails = true, ...query }) => {
    const page = await agent.data.listImages(query);
    return {
      ...page,
      thumbnails: thumbnails
        ? await thumbnailsOf(
            agent.data,
            page.rows.map((row) => row.id),
          )
        : {},
    };
  },
  'data.image': async (agent, { imageId }) => {
    const [png, questions] = await Promise.all([
      agent.data.modelInputPng(imageId),
      agent.data.listRecords({ imageId, limit: 500 }),
    ]);
    if (!png) throw new Error(`there is no image ${imageId} in this site's store`);
    return {
      imageId,
      modelInput: `data:image/png;base64,${Buffer.from(png).toString('base64')}`,
      questions: questions.rows,
    };
  },
  'data.imports': (agent, input) => agent.data.imports(input),
  'data.importErrors': (agent, input) => agent.data.importErrors(input.importId, input.offset, input.limit),
};

/** The stored thumbnails of a page's images (each once), keyed by image id. */
async function thumbnailsOf(data: SiteDataService, imageIds: number[]): Promise<Record<string, string>> {
  const urls = await data.thumbnailDataUrls([...new Set(imageIds)]);
  return Object.fromEntries(Object.entries(urls));
}

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
