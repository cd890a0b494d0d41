import { CliError } from '../../core/cli/errors.js';
import { dirname } from 'node:path';
import { sitePaths } from '../agent/site-data-dir.js';
import { SiteDataService } from '../data/site-data-service.js';

/** A store opened by a command: its own store worker, ended by `close`. */
type OpenedSiteData = Awaited<ReturnType<typeof SiteDataService.open>>;
import type { ImportProgress, ImportSummary } from '../importers/types.js';
import { formatImportSummary, importProgressPrinter } from './import-output.js';

/** Opens the site store of a command, turning a failure into the command's one-line error. */
export async function openSiteData(
  command: string,
  database: string,
  options: { encoderDir?: string } = {},
): Promise<OpenedSiteData> {
  try {
    return await SiteDataService.open(database, options);
  } catch (error) {
    throw new CliError(`${command}: cannot open the site store: ${(error as Error).message}`);
  }
}

/**
 * Runs one import-like job (`site import`, `site synth`) with a progress display, prints its summary (or
 * JSON), and closes the store whatever happens; a failure becomes the command's one-line error.
 */
export async function runImportJob(
  command: string,
  database: string,
  json: boolean,
  job: (service: SiteDataService, onProgress: (progress: ImportProgress) => void) => Promise<ImportSummary>,
): Promise<number> {
  // Imports compute image features from the source as the agent's do (encoders beside the database).
  const service = await openSiteData(command, database, {
    encoderDir: sitePaths(dirname(database)).encoders,
  });
  const progress = importProgressPrinter(json);
  try {
    const summary = await job(service, progress);
    console.log(json ? JSON.stringify(summary) : formatImportSummary(summary));
    return 0;
  } catch (error) {
    progress.clear();
    throw new CliError(`${command}: ${(error as Error).message.split('\n')[0]}`);
  } finally {
    await service.close();
  }
}
