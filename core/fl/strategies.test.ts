import { describe, expect, it } from 'vitest';
import { applyServerStep, proximalMu, type Strategy } from './strategies.js';

const global = Float32Array.from([1, -2, 0.5]);
const delta = Float32Array.from([0.1, 0.2, -0.4]);

describe('server strategies', () => {
  it('FedAvg and FedProx add the mean update', () => {
    for (const strategy of [{ kind: 'fedavg' }, { kind: 'fedprox', mu: 0.01 }] as Strategy[]) {
      const { next } = applyServerStep(strategy, global, delta);
      expect(Array.from(next)).toEqual(Array.from(global).map((x, i) => Math.fround(x + delta[i]!)));
    }
    expect(proximalMu({ kind: 'fedprox', mu: 0.01 })).toBe(0.01);
    expect(proximalMu({ kind: 'fedavg' })).toBe(0);
  });

  it('FedAdam follows Reddi et al. and carries its moments across rounds', () => {
    const strategy: Strategy = { kind: 'fedadam', lr: 0.1, beta1: 0.9, beta2: 0.99, tau: 1e-3 };
    const first = applyServerStep(strategy, global, delta);
    // Round 1 by hand: m = 0.1 g, v = 0.01 g², step = lr · 0.1g / (0.1|g| + τ).
    for (let i = 0; i < 3; i++) {
      const g = delta[i]!;
      const expected = global[i]! + (0.1 * 0.1 * g) / (Math.sqrt(0.01 * g * g) + 1e-3);
      expect(first.next[i]).toBeCloseTo(expected, 5);
    }
    const second = applyServerStep(strategy, first.next, delta, first.state);
    const g = delta[0]!;
    const m = 0.9 * 0.1 * g + 0.1 * g;
    const v = 0.99 * 0.01 * g * g + 0.01 * g * g;
    expect(second.next[0]).toBeCloseTo(first.next[0]! + (0.1 * m) / (Math.sqrt(v) + 1e-3), 5);
    // Inputs untouched.
    expect(Array.from(first.state.m!)).toEqual(Array.from(delta).map((d) => Math.fround(0.1 * d)));
  });

  it('refuses an update of the wrong length', () => {
    expect(() => applyServerStep({ kind: 'fedavg' }, global, new Float32Array(2))).toThrow(
      /2 values, model has 3/,
    );
  });
});
