import { describe, expect, it } from 'vitest';
import { federationConfigSchema, type FederationConfig } from '../../core/protocol/federation.js';
import {
  DEFAULT_SITE_POLICY,
  configPolicyProblems,
  diffConfigs,
  rosterPolicyProblem,
} from './security-policy.js';

const config = (overrides: Partial<FederationConfig> = {}): FederationConfig =>
  federationConfigSchema.parse({
    name: 'Policy',
    baseModelHash: '0'.repeat(64),
    answers: ['yes', 'no'],
    adapter: {
      lora: { enabled: true, shared: false, rank: 4, alpha: 8, targets: ['q_proj'] },
      prompt: { enabled: false, shared: true, tokens: 4 },
      head: { enabled: true, shared: true },
    },
    strategy: { kind: 'fedavg' },
    local: { epochs: 1, batchSize: 8, lr: 1e-3, weightDecay: 0, gradClip: 1 },
    rounds: 1,
    minSites: 2,
    secure: { enabled: true, clipNorm: 1 },
    deadlines: { trainingMs: 60_000, stageMs: 10_000 },
    seed: 1,
    ...overrides,
  });

describe('the threshold floor, on what the round would run with', () => {
  it('checks what core/secagg would run with: the default threshold passes, a fixed low one does not', () => {
    expect(rosterPolicyProblem(config(), 6, DEFAULT_SITE_POLICY)).toBeUndefined();
    expect(
      rosterPolicyProblem(
        config({ secure: { enabled: true, clipNorm: 1, threshold: 3 } }),
        6,
        DEFAULT_SITE_POLICY,
      ),
    ).toMatch(/threshold 3 of 6/);
    // 150 sites use SecAgg+ with k = 100 by default: the default neighbourhood passes, k = 40 does not.
    expect(rosterPolicyProblem(config(), 150, DEFAULT_SITE_POLICY)).toBeUndefined();
    expect(
      rosterPolicyProblem(
        config({ secure: { enabled: true, clipNorm: 1, neighbours: 40 } }),
        150,
        DEFAULT_SITE_POLICY,
      ),
    ).toMatch(/neighbourhoods of 40/);
  });
});

describe('configuration changes', () => {
  it('are listed field by field, and flag exactly the ones that weaken security', () => {
    const approved = config();
    const offered = config({
      minSites: 3,
      secure: { enabled: true, clipNorm: 2, threshold: 4 },
      adapter: { ...approved.adapter, lora: { ...approved.adapter.lora, shared: true } },
      answers: ['yes', 'no', 'maybe'],
    });
    expect(diffConfigs(approved, offered)).toEqual([
      { field: 'adapter.lora.shared', approved: false, offered: true, weakens: true },
      { field: 'answers', approved: ['yes', 'no'], offered: ['yes', 'no', 'maybe'], weakens: false },
      { field: 'minSites', approved: 2, offered: 3, weakens: false },
      { field: 'secure.clipNorm', approved: 1, offered: 2, weakens: false },
      { field: 'secure.threshold', approved: undefined, offered: 4, weakens: true },
    ]);
    expect(diffConfigs(offered, config({ ...offered, secure: { ...offered.secure, threshold: 5 } }))).toEqual(
      [{ field: 'secure.threshold', approved: 4, offered: 5, weakens: false }],
    );
    expect(diffConfigs(approved, config({ secure: { enabled: false, clipNorm: 1 } }))[0]).toMatchObject({
      field: 'secure.enabled',
      weakens: true,
    });
  });

  it('below the policy on their own: secure aggregation off unless allowed locally, minSites below the site’s', () => {
    const insecure = config({ secure: { enabled: false, clipNorm: 1 }, minSites: 1 });
    expect(configPolicyProblems(insecure, DEFAULT_SITE_POLICY)).toHaveLength(2);
    expect(
      configPolicyProblems(insecure, { ...DEFAULT_SITE_POLICY, secureRequired: false, minSites: 1 }),
    ).toEqual([]);
  });
});
