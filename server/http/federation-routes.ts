import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type {
  AdminFederationDetail,
  AdminFederationList,
  AdminRound,
  AdminRoundEvent,
  AdminRoundsCancellation,
  AdminRunningRound,
} from '../../core/protocol/admin.js';
import { federationConfigSchema, type FederationConfig } from '../../core/protocol/federation.js';
import type { Remote } from '../../core/util/worker-rpc.node.js';
import { RoundError, type RoundEngine, type RoundEvent } from '../rounds/round-engine.js';
import type { CoordinatorStore } from '../store/coordinator-store.js';
import { HttpError } from './http-error.js';

/** Turns a partial config (name, answers, overrides) into a full one plus its version-0 tensors. */
export type FederationFactory = (request: {
  name: string;
  answers: string[];
  overrides: Partial<FederationConfig>;
}) => Promise<{
  config: FederationConfig;
  initialShared: Float32Array;
}>;

const federationIdSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'lowercase letters, digits and hyphens');
const createSchema = z.object({
  id: federationIdSchema,
  name: z.string().min(1).max(200),
  answers: z.array(z.string().min(1).max(200)).min(2).max(10_000),
  overrides: federationConfigSchema.partial().default({}),
});
const runSchema = z.object({
  count: z.number().int().min(1).max(1000).default(1),
  /** Evaluation rounds: measure the current version; no update, no new version. */
  evaluate: z.boolean().default(false),
});

/**
 * Admin routes for federations and rounds (console and CLI). Running rounds answers with a stream of
 * newline-delimited JSON events until the requested rounds are done; the rounds go on if the client
 * goes away.
 */
export function registerFederationRoutes(
  app: FastifyInstance,
  deps: {
    store: Remote<CoordinatorStore>;
    rounds: RoundEngine;
    requireAdmin: (request: FastifyRequest) => Promise<void>;
    createFederation: FederationFactory;
  },
): void {
  const { store, rounds, requireAdmin } = deps;
  const parse = <T>(schema: z.ZodType<T>, body: unknown): T => {
    const parsed = schema.safeParse(body ?? {});
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new HttpError(400, 'bad_request', `${issue?.path.join('.') || 'body'}: ${issue?.message}`);
    }
    return parsed.data;
  };
  // The engine knows which round runs; its participants and stage are only in its events, which the
  // console needs to follow a round started by another client (the CLI, another console).
  let progress: AdminRunningRound | undefined;
  rounds.on('event', (event) => {
    if (event.type === 'round-started') {
      const { federationId, round, participants } = event;
      progress = { federationId, round, participants, stage: null, waitingFor: participants };
    } else if (event.type === 'round-stage' && progress)
      progress = { ...progress, stage: event.stage, waitingFor: event.waitingFor };
  });
  const running = (): AdminRunningRound | null => {
    const now = rounds.runningRound;
    if (!now) return null;
    return progress?.federationId === now.federationId && progress.round === now.round
      ? progress
      : { ...now, participants: [], stage: null, waitingFor: [] };
  };

  /** The batches of rounds being run (`POST …/rounds {count}`), each stopped by its cancel function. */
  const batches = new Set<() => void>();

  app.post(
    '/v1/admin/rounds/cancel',
    { preHandler: requireAdmin },
    async (): Promise<AdminRoundsCancellation> => {
      const stopped = batches.size;
      for (const stop of batches) stop();
      const round = rounds.cancel('cancelled by the operator') ?? null;
      return { round, batches: stopped };
    },
  );

  app.get('/v1/admin/federations', { preHandler: requireAdmin }, async (): Promise<AdminFederationList> => {
    const federations = await store.listFederations();
    return {
      federations: federations.map(({ id, name, configHash, createdAt, latestVersion, completedRounds }) => ({
        id,
        name,
        configHash,
        createdAt,
        latestVersion,
        completedRounds,
      })),
      running: running(),
    };
  });

  app.post('/v1/admin/federations', { preHandler: requireAdmin }, async (request) => {
    const body = parse(createSchema, request.body);
    let built;
    try {
      built = await deps.createFederation({
        name: body.name,
        answers: body.answers,
        overrides: body.overrides as Partial<FederationConfig>,
      });
    } catch (error) {
      throw new HttpError(400, 'bad_config', (error as Error).message);
    }
    try {
      const version = await rounds.createFederation(body.id, built.config, built.initialShared);
      return { id: body.id, config: built.config, version };
    } catch (error) {
      if (error instanceof RoundError) throw new HttpError(409, 'federation_exists', error.message);
      throw error;
    }
  });

  app.get<{ Params: { id: string } }>(
    '/v1/admin/federations/:id',
    { preHandler: requireAdmin },
    async (request): Promise<AdminFederationDetail> => {
      const federation = await store.getFederation(request.params.id);
      if (!federation) throw new HttpError(404, 'not_found', `no federation '${request.params.id}'`);
      const latest = await store.getVersion(federation.id);
      return {
        federation: {
          id: federation.id,
          name: federation.name,
          config: federation.config,
          configHash: federation.configHash,
          createdAt: federation.createdAt,
        },
        latestVersion: latest
          ? {
              version: latest.version,
              hash: latest.hash,
              createdAt: latest.createdAt,
              parentHash: latest.parentHash,
            }
          : null,
        // Stored as the round engine wrote them: the stream below checks RoundEvent against the same types.
        rounds: (await store.listRounds(federation.id)) as AdminRound[],
        running: running(),
      };
    },
  );

  app.post<{ Params: { id: string } }>(
    '/v1/admin/federations/:id/rounds',
    { preHandler: requireAdmin },
    async (request, reply) => {
      const { count, evaluate } = parse(runSchema, request.body);
      const federationId = request.params.id;
      if (!(await store.getFederation(federationId)))
        throw new HttpError(404, 'not_found', `no federation '${federationId}'`);
      if (rounds.runningRound)
        throw new HttpError(
          409,
          'round_running',
          `round ${rounds.runningRound.round} of ${rounds.runningRound.federationId} is still running`,
        );
      reply.raw.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
      const write = (event: AdminRoundEvent) => {
        if (!reply.raw.destroyed) reply.raw.write(`${JSON.stringify(event)}\n`);
      };
      const forward = (event: RoundEvent) => write(event);
      rounds.on('event', forward);
      let cancelled = false;
      const cancel = () => (cancelled = true);
      batches.add(cancel);
      try {
        for (let i = 0; i < count; i++) {
          if (cancelled) {
            write({ type: 'rounds-stopped', reason: 'cancelled by the operator' });
            break;
          }
          try {
            await rounds.runRound(federationId, { evaluateOnly: evaluate });
          } catch (error) {
            if (!(error instanceof RoundError)) throw error;
            write({ type: 'rounds-stopped', reason: error.message });
            break;
          }
        }
      } finally {
        batches.delete(cancel);
        rounds.off('event', forward);
        write({ type: 'rounds-done' });
        reply.raw.end();
      }
      return reply;
    },
  );
}
