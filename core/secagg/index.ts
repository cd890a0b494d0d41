/** Secure aggregation (DESIGN.md §4): platform-free state machines, messages, encoding and helpers. */
export { SecAggClient, type ClientStage, type SecAggClientConfig } from './client.js';
export {
  SecAggServer,
  type Outbound,
  type SecAggResult,
  type SecAggServerConfig,
  type ServerStage,
  type StageOutput,
} from './server.js';
export { SecAggError, type SecAggErrorCode } from './errors.js';
export * from './messages.js';
export {
  COMPLETE_GRAPH_MAX_SITES,
  DEFAULT_NEIGHBOURS,
  defaultThreshold,
  neighbourhoods,
  resolveParams,
  thresholdFloor,
  type RoundParams,
  type SecAggOptions,
  type SessionInfo,
} from './params.js';
export {
  DEFAULT_SECAGG_FLOOR,
  formatFraction,
  leastThreshold,
  paramsBelowFloor,
  thresholdBelowFloor,
  thresholdMeetsFloor,
  type Fraction,
  type SecAggFloor,
} from './policy.js';
export type { Roster } from './roster.js';
export {
  InThreadMaskEngine,
  applyMasksInThread,
  type MaskEngine,
  type MaskStats,
  type MaskTerm,
} from './mask.js';
export { libsodiumPrg, type KeystreamReader, type PrgFactory } from './prg.js';
export {
  simulateRound,
  makeIdentities,
  type DropStage,
  type SimulateOptions,
  type SimulationResult,
} from './simulate.js';
export * from './encoding.js';
export { SECAGG_STAGES, type SecAggStage } from './stages.js';
