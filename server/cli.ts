import { dispatch, type CommandEntry } from '../core/cli/dispatch.js';

/** Coordinator commands (`cohort server …`). */
const commands: Record<string, CommandEntry> = {
  'server init': { summary: 'create a coordinator data directory', load: () => import('./commands/init.js') },
  'server start': {
    summary: 'serve the coordinator API and console',
    load: () => import('./commands/start.js'),
  },
  'server invite': {
    summary: 'print a one-time enrollment link for a site',
    load: () => import('./commands/invite.js'),
  },
  'server status': {
    summary: 'show enrolled and connected sites',
    load: () => import('./commands/status.js'),
  },
  'server site': {
    summary: 'revoke a site (revoke)',
    load: () => import('./commands/site.js'),
  },
  'server federation': {
    summary: 'create or list federations (create|list)',
    load: () => import('./commands/federation.js'),
  },
  'server rounds': {
    summary: 'run rounds of a federation and follow them live',
    load: () => import('./commands/rounds.js'),
  },
  'server export': {
    summary: 'export a global version (cohort, peft, onnx)',
    load: () => import('./commands/export.js'),
  },
};

export function run(command: string, args: string[]): Promise<number> {
  return dispatch(commands, command, args);
}
