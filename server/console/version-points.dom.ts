import type { AdminRound } from '../../core/protocol/admin.js';

export interface VersionPoint {
  version: number;
  overall: number | null;
  closed: number | null;
  open: number | null;
  valLoss: number | null;
}

const percent = (value: number | null) => (value === null ? null : Math.round(value * 1000) / 10);

/**
 * One point per measured version: a round's federation-wide figures are those of the version it started
 * from (on the union of the participating sites' validation splits). When several rounds measured the
 * same version, the latest measurement wins.
 */
export function versionPoints(rounds: readonly AdminRound[]): VersionPoint[] {
  const byVersion = new Map<number, VersionPoint>();
  for (const round of [...rounds].sort((a, b) => a.round - b.round)) {
    const m = round.metrics;
    if (!m || m.valExamples === 0) continue;
    byVersion.set(m.startingVersion, {
      version: m.startingVersion,
      overall: percent(m.overallAcc),
      closed: percent(m.closedAcc),
      open: percent(m.openAcc),
      valLoss: m.valLoss === null ? null : Math.round(m.valLoss * 1000) / 1000,
    });
  }
  return [...byVersion.values()].sort((a, b) => a.version - b.version);
}
