import { createSettingsTable } from '../../core/store/settings.node.js';
import type { Migration } from '../../core/store/sqlite.node.js';
import { createFederationTables } from './federation-data.js';

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
  {
    version: 2,
    description: 'site data: imports and their errors, images, questions',
    // Import history first (images and questions point at the import that brought them). Pixels are
    // the model's input (grayscale, letterboxed square); the thumbnail is for the UI. No file names of
    // hospital data, no DICOM header values except modality and body part: see src-main/importers.
    // A question's split always equals its image's split (trigger), so no image straddles splits.
    up(db) {
      db.exec(`
        CREATE TABLE imports (
          id INTEGER PRIMARY KEY,
          format TEXT NOT NULL,
          source TEXT NOT NULL,
          options TEXT NOT NULL DEFAULT '{}',
          status TEXT NOT NULL CHECK (status IN ('completed', 'failed', 'cancelled')),
          started_at TEXT NOT NULL,
          finished_at TEXT NOT NULL,
          images_added INTEGER NOT NULL DEFAULT 0,
          images_existing INTEGER NOT NULL DEFAULT 0,
          images_failed INTEGER NOT NULL DEFAULT 0,
          questions_added INTEGER NOT NULL DEFAULT 0,
          questions_existing INTEGER NOT NULL DEFAULT 0,
          questions_failed INTEGER NOT NULL DEFAULT 0,
          questions_skipped INTEGER NOT NULL DEFAULT 0,
          error_count INTEGER NOT NULL DEFAULT 0,
          failure TEXT,
          summary TEXT NOT NULL DEFAULT '{}'
        ) STRICT;

        CREATE TABLE import_errors (
          import_id INTEGER NOT NULL REFERENCES imports (id) ON DELETE CASCADE,
          seq INTEGER NOT NULL,
          item TEXT NOT NULL,
          message TEXT NOT NULL,
          PRIMARY KEY (import_id, seq)
        ) STRICT, WITHOUT ROWID;

        CREATE TABLE images (
          id INTEGER PRIMARY KEY,
          content_hash BLOB NOT NULL UNIQUE CHECK (length(content_hash) = 32),
          source_name TEXT,
          source_format TEXT NOT NULL,
          source_width INTEGER NOT NULL CHECK (source_width > 0),
          source_height INTEGER NOT NULL CHECK (source_height > 0),
          size INTEGER NOT NULL CHECK (size > 0),
          pixels BLOB NOT NULL CHECK (length(pixels) = size * size),
          thumbnail BLOB NOT NULL,
          thumbnail_type TEXT NOT NULL,
          modality TEXT,
          organ TEXT,
          split TEXT NOT NULL CHECK (split IN ('train', 'val')),
          import_id INTEGER NOT NULL REFERENCES imports (id)
        ) STRICT;
        CREATE INDEX images_organ ON images (organ);
        CREATE INDEX images_modality ON images (modality);
        CREATE INDEX images_split ON images (split);

        CREATE TABLE questions (
          id INTEGER PRIMARY KEY,
          image_id INTEGER NOT NULL REFERENCES images (id),
          source_key TEXT NOT NULL,
          question TEXT NOT NULL CHECK (length(trim(question)) > 0),
          answer TEXT NOT NULL CHECK (length(trim(answer)) > 0),
          answer_type TEXT NOT NULL CHECK (answer_type IN ('closed', 'open')),
          split TEXT NOT NULL CHECK (split IN ('train', 'val')),
          import_id INTEGER NOT NULL REFERENCES imports (id),
          UNIQUE (image_id, source_key, question, answer)
        ) STRICT;
        CREATE INDEX questions_split_type ON questions (split, answer_type);
        CREATE INDEX questions_answer_type ON questions (answer_type);
        CREATE INDEX questions_import ON questions (import_id);

        CREATE TRIGGER questions_split_insert BEFORE INSERT ON questions
        WHEN NEW.split IS NOT (SELECT split FROM images WHERE id = NEW.image_id)
        BEGIN SELECT RAISE(ABORT, 'a question''s split must equal its image''s split'); END;
        CREATE TRIGGER questions_split_update BEFORE UPDATE OF split, image_id ON questions
        WHEN NEW.split IS NOT (SELECT split FROM images WHERE id = NEW.image_id)
        BEGIN SELECT RAISE(ABORT, 'a question''s split must equal its image''s split'); END;
        CREATE TRIGGER images_split_update AFTER UPDATE OF split ON images
        BEGIN UPDATE questions SET split = NEW.split WHERE image_id = NEW.id; END;
      `);
    },
  },
  {
    version: 3,
    description: 'federated training: accepted global versions, personal adapters, local rounds, audit log',
    up: createFederationTables,
  },
  {
    // Issue 12 (site security policy) owns version 4; this empty step only keeps the numbering
    // contiguous on this branch and is replaced by issue 12's migration when both are merged.
    version: 4,
    description: 'reserved (site security policy)',
    up: () => {},
  },
  {
    version: 5,
    description: 'frozen image-encoder features, cached per image content and encoder',
    // Keyed by the image's content hash (not its row id), so a re-imported image finds its features.
    // `encoder_key` hashes the encoder spec (file hash, input size, normalisation, outputs). `layout` is
    // the JSON list of outputs ({name, shape}, channels-last) concatenated in `features`, little-endian
    // float16. `source` says what the features were computed from: 'import' = the decoded source image
    // at the encoder's input size, 'stored' = the stored 128² pixels resized (images imported before).
    // Features never leave the site (like the pixels they come from).
    up(db) {
      db.exec(`
        CREATE TABLE image_features (
          content_hash BLOB NOT NULL CHECK (length(content_hash) = 32),
          encoder_key BLOB NOT NULL CHECK (length(encoder_key) = 32),
          source TEXT NOT NULL CHECK (source IN ('import', 'stored')),
          layout TEXT NOT NULL,
          features BLOB NOT NULL,
          created_at TEXT NOT NULL,
          PRIMARY KEY (content_hash, encoder_key)
        ) STRICT;
      `);
    },
  },
];
