#!/usr/bin/env node
// The one `cohort` entry. It dispatches to the area that owns a subcommand and turns any error into one
// line on stderr and a non-zero exit (set COHORT_DEBUG=1 for the stack).
import { existsSync } from 'node:fs';

const areas = {
  server: '../dist/server/cli.js',
  demo: '../dist/server/demo.js',
  site: '../dist/src-main/cli.js',
  model: '../dist/src-main/cli.js',
  train: '../dist/src-main/cli.js',
  eval: '../dist/src-main/cli.js',
  bench: '../dist/bench/cli.js',
};

const usage = `usage: cohort <command> [options]

commands:
  server init|start|invite|status|federation|rounds|export
                                    run the coordinator: sites, federations, rounds, exports
  site enroll|serve|import|data|synth|participate|audit
                                    run a hospital site: enrollment, data, participation, audit log
  model import                      register a language-model checkpoint (Hugging Face layout) by hash
  train, eval                       train or evaluate an adapter on one dataset (no federation)
  demo                              a coordinator and three sites train together on this machine
  bench secagg|train|import|lm        benchmarks (printed figures, --json FILE)

Run 'cohort <command> --help' for a command's options.`;

const [command, ...rest] = process.argv.slice(2);
if (!command || command === '--help' || command === '-h' || command === 'help') {
  console.log(usage);
  process.exit(command ? 0 : 2);
}
const target = areas[command];
if (!target) {
  console.error(`cohort: unknown command '${command}' (run 'cohort --help')`);
  process.exit(2);
}
const url = new URL(target, import.meta.url);
if (!existsSync(url)) {
  console.error("cohort: this checkout is not built yet; run 'npm run build' (npm install does it too)");
  process.exit(1);
}
try {
  const area = await import(url.href);
  process.exitCode = await area.run(command, rest);
} catch (error) {
  const message = error instanceof Error ? error.message : String(error);
  console.error(`cohort: error: ${message.split('\n')[0]}`);
  if (process.env.COHORT_DEBUG) console.error(error);
  process.exitCode = typeof error?.exitCode === 'number' ? error.exitCode : 1;
}
