/**
 * The stages in order, each named by the message a site sends in it; 'reveal' (the graph's
 * commit-reveal) only with SecAgg+ neighbourhoods.
 */
export const SECAGG_STAGES = [
  'advertise',
  'reveal',
  'share-keys',
  'masked-input',
  'consistency',
  'unmask',
] as const;
export type SecAggStage = (typeof SECAGG_STAGES)[number];
