import { createSettingsTable } from '../../core/store/settings.node.js';
import type { Migration } from '../../core/store/sqlite.node.js';

/**
 * The site database's schema, one append-only step at a time. Never edit a migration that has shipped;
 * add the next one. Each runs in one transaction together with its `user_version` bump.
 */
export const siteMigrations: readonly Migration[] = [
  {
    version: 1,
    description: 'settings',
    up: createSettingsTable,
  },
];
