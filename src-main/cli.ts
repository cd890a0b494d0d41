import { dispatch, type CommandEntry } from '../core/cli/dispatch.js';

/** Site-side commands. Each entry's module lives next to the code it drives. */
const commands: Record<string, CommandEntry> = {
  'site enroll': {
    summary: 'enroll this site with a coordinator (one-time link)',
    load: () => import('./commands/site-enroll.js'),
  },
  'site serve': {
    summary: 'run the site agent and its UI on 127.0.0.1',
    load: () => import('./commands/site-serve.js'),
  },
  'site import': {
    summary: 'import VQA-RAD, SLAKE, CSV/JSONL or DICOM data into the site store',
    load: () => import('./commands/site-import.js'),
  },
  'site data': {
    summary: "count the site's images and questions by split, answer type, organ",
    load: () => import('./commands/site-data.js'),
  },
  'site synth': {
    summary: 'generate SynthRad-VQA demo records into the site store',
    load: () => import('./commands/site-synth.js'),
  },
  'site participate': {
    summary: 'switch joining federated rounds on or off (time window, roster policy)',
    load: () => import('./commands/site-participate.js'),
  },
  'site federation': {
    summary: 'show or approve the federation config this site pinned; its security policy',
    load: () => import('./commands/site-federation.js'),
  },
  'site audit': {
    summary: 'list every message this site sent, with size and hash',
    load: () => import('./commands/site-audit.js'),
  },
  'model import': {
    summary: 'register a Hugging Face language-model checkpoint by content hash',
    load: () => import('./commands/model-import.js'),
  },
  train: {
    summary: 'train an adapter on one dataset (no federation)',
    load: () => import('./training/train.js'),
  },
  eval: {
    summary: 'evaluate an adapter or base model on a dataset',
    load: () => import('./training/eval.js'),
  },
};

export function run(command: string, args: string[]): Promise<number> {
  return dispatch(commands, command, args);
}
