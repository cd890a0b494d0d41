import type { Statement } from 'better-sqlite3';
import { DataInputError } from '../../core/data/text.js';
import {
  MAX_PAGE,
  MAX_RETURNED_ERRORS,
  type DataCounts,
  type ImageQuery,
  type ImageRow,
  type ImportHistoryQuery,
  type ImportRecord,
  type RecordQuery,
  type RecordRow,
  type TrainingDataQuery,
} from '../../core/data/site-data-api.js';
import type { AnswerType, GrayImage, Split, VqaDataset, VqaRecord } from '../../core/data/types.js';
import type { SqliteDatabase } from '../../core/store/sqlite.node.js';
import type {
  DroppedTag,
  ImportProgress,
  ImportSummary,
  ItemError,
  PreparedImport,
  RecordedFormat,
} from '../importers/types.js';

export type {
  DataCounts,
  ImageQuery,
  ImageRow,
  ImportHistoryQuery,
  ImportRecord,
  RecordQuery,
  RecordRow,
  TrainingDataQuery,
};

/** better-sqlite3 binds Buffers, not plain Uint8Arrays (which is what crosses a worker boundary). */
const blob = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
const hex = (bytes: Uint8Array) => blob(bytes).toString('hex');
const now = () => new Date().toISOString();
const page = (offset: number | undefined, limit: number | undefined) => ({
  offset: Math.max(0, Math.floor(offset ?? 0)),
  limit: Math.min(MAX_PAGE, Math.max(1, Math.floor(limit ?? 50))),
});
const plural = (n: number, word: string) => `${n.toLocaleString('en-US')} ${word}${n === 1 ? '' : 's'}`;

/** The site store's data tables (migration 2): writes one import per transaction, answers the UI. */
export class SiteData {
  private readonly statements = new Map<string, Statement>();

  constructor(private readonly db: SqliteDatabase) {}

  private sql(text: string): Statement {
    let statement = this.statements.get(text);
    if (!statement) {
      statement = this.db.prepare(text);
      this.statements.set(text, statement);
    }
    return statement;
  }

  hasImage(hashHex: string): boolean {
    return (
      this.sql('SELECT 1 FROM images WHERE content_hash = ?').get(Buffer.from(hashHex, 'hex')) !== undefined
    );
  }

  /**
   * Writes a prepared import in one transaction: all of it becomes visible, or (error, crash, kill)
   * none of it. Images already stored (same content hash) and questions already stored (same image,
   * source key, question and answer) are counted, not added again.
   */
  commitImport(
    prepared: PreparedImport,
    meta: { startedAt: string; seed: number; validationFraction: number; strict?: boolean },
    onProgress?: (progress: ImportProgress) => void,
  ): ImportSummary {
    if (meta.strict && prepared.errors.length > 0) throw strictFailure(prepared.errors);
    const started = Date.now();
    const total = prepared.images.length + prepared.questions.length;
    let done = 0;
    const tick = () => {
      done++;
      if (onProgress && (done % 64 === 0 || done === total)) onProgress({ phase: 'write', done, total });
    };
    const write = this.db.transaction(() => {
      onProgress?.({ phase: 'write', done: 0, total });
      const importId = Number(
        this.sql(
          `INSERT INTO imports (format, source, options, status, started_at, finished_at)
           VALUES (?, ?, ?, 'completed', ?, ?)`,
        ).run(prepared.format, prepared.source, JSON.stringify(prepared.options), meta.startedAt, now())
          .lastInsertRowid,
      );
      const errors: ItemError[] = prepared.errors.map(({ item, message }) => ({ item, message }));
      const imageIds = new Map<string, { id: number; split: Split }>();
      const images = { added: 0, existing: 0, failed: prepared.failedImages };
      for (const image of prepared.images) {
        const key = hex(image.hash);
        const found = this.sql('SELECT id, split FROM images WHERE content_hash = ?').get(
          blob(image.hash),
        ) as { id: number; split: Split } | undefined;
        if (found) {
          images.existing++;
          this.sql(
            'UPDATE images SET organ = coalesce(organ, ?), modality = coalesce(modality, ?) WHERE id = ?',
          ).run(image.organ, image.modality, found.id);
          imageIds.set(key, found);
        } else {
          // Checked by hash before decoding; only a concurrent writer could make this happen.
          if (!image.stored)
            throw new Error('an image expected in the store is missing; run the import again');
          const s = image.stored;
          const id = Number(
            this.sql(
              `INSERT INTO images (content_hash, source_name, source_format, source_width, source_height, size,
                 pixels, thumbnail, thumbnail_type, modality, organ, split, import_id)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
            ).run(
              blob(image.hash),
              image.sourceName,
              s.sourceFormat,
              s.sourceWidth,
              s.sourceHeight,
              s.size,
              blob(s.pixels),
              blob(s.thumbnail),
              s.thumbnailType,
              image.modality,
              image.organ,
              image.split,
              importId,
            ).lastInsertRowid,
          );
          images.added++;
          imageIds.set(key, { id, split: image.split });
        }
        tick();
      }
      const questions = {
        added: 0,
        existing: 0,
        failed: prepared.failedQuestions,
        skipped: Object.values(prepared.skipped).reduce((a, b) => a + b, 0),
      };
      const splitCounts = { train: 0, val: 0 };
      const insertQuestion = this.sql(
        `INSERT INTO questions (image_id, source_key, question, answer, answer_type, split, import_id)
         VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (image_id, source_key, question, answer) DO NOTHING`,
      );
      for (const q of prepared.questions) {
        const image = imageIds.get(q.imageHash);
        if (!image) throw new Error(`question ${q.item} refers to an image that is not part of the import`);
        if (q.requestedSplit && q.requestedSplit !== image.split) {
          errors.push({
            item: q.item,
            message: `split '${q.requestedSplit}' conflicts with the split '${image.split}' its image already has in the store`,
          });
          questions.failed++;
        } else if (
          insertQuestion.run(image.id, q.sourceKey, q.question, q.answer, q.answerType, image.split, importId)
            .changes > 0
        ) {
          questions.added++;
          splitCounts[image.split]++;
        } else questions.existing++;
        tick();
      }
      if (meta.strict && errors.length > 0) throw strictFailure(errors);
      const insertError = this.sql(
        'INSERT INTO import_errors (import_id, seq, item, message) VALUES (?, ?, ?, ?)',
      );
      errors.forEach((e, seq) => insertError.run(importId, seq, e.item, e.message));
      const nothingNew = images.added === 0 && questions.added === 0;
      const split = { seed: meta.seed, validationFraction: meta.validationFraction, ...splitCounts };
      const summaryJson = {
        skipped: prepared.skipped,
        notes: prepared.notes,
        split,
        ...(prepared.droppedTags ? { droppedTags: prepared.droppedTags } : {}),
      };
      this.sql(
        `UPDATE imports SET finished_at = ?, images_added = ?, images_existing = ?, images_failed = ?,
           questions_added = ?, questions_existing = ?, questions_failed = ?, questions_skipped = ?,
           error_count = ?, summary = ? WHERE id = ?`,
      ).run(
        now(),
        images.added,
        images.existing,
        images.failed,
        questions.added,
        questions.existing,
        questions.failed,
        questions.skipped,
        errors.length,
        JSON.stringify(summaryJson),
        importId,
      );
      let message: string;
      if (nothingNew && images.existing + questions.existing > 0) {
        message =
          `nothing new: all ${plural(images.existing, 'image')} and ${plural(questions.existing, 'question')} ` +
          'were already in the store';
      } else {
        message = `imported ${plural(images.added, 'image')} and ${plural(questions.added, 'question')}`;
        if (images.existing + questions.existing > 0) {
          message += ` (${plural(images.existing, 'image')} and ${plural(questions.existing, 'question')} were already stored)`;
        }
      }
      if (errors.length > 0) message += `; ${plural(errors.length, 'error')}`;
      if (questions.skipped > 0) message += `; ${questions.skipped.toLocaleString('en-US')} skipped`;
      // Paths stay in the returned errors (for the operator), never in the table.
      const returnedErrors = errors.slice(0, MAX_RETURNED_ERRORS).map((e, i) => {
        const path = prepared.errors[i]?.path;
        return path !== undefined && i < prepared.errors.length ? { ...e, path } : e;
      });
      return {
        importId,
        format: prepared.format,
        source: prepared.source,
        status: 'completed' as const,
        images,
        questions,
        skipped: prepared.skipped,
        split,
        errors: returnedErrors,
        errorCount: errors.length,
        ...(prepared.droppedTags ? { droppedTags: prepared.droppedTags } : {}),
        notes: prepared.notes,
        nothingNew,
        message,
        durationMs: 0,
      };
    });
    const summary = write();
    summary.durationMs = Date.now() - started;
    onProgress?.({ phase: 'done', done: total, total });
    return summary;
  }

  /** Records an import that stored nothing (bad input, cancelled), so the history shows it. */
  recordFailedImport(entry: {
    format: RecordedFormat;
    source: string;
    options: Record<string, unknown>;
    startedAt: string;
    status: 'failed' | 'cancelled';
    failure: string;
  }): number {
    return Number(
      this.sql(
        `INSERT INTO imports (format, source, options, status, started_at, finished_at, failure)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
      ).run(
        entry.format,
        entry.source,
        JSON.stringify(entry.options),
        entry.status,
        entry.startedAt,
        now(),
        entry.failure,
      ).lastInsertRowid,
    );
  }

  private where(
    query: RecordQuery | ImageQuery,
    questionAlias: string | undefined,
  ): { clause: string; params: unknown[] } {
    const parts: string[] = [];
    const params: unknown[] = [];
    const add = (sql: string, ...values: unknown[]) => {
      parts.push(sql);
      params.push(...values);
    };
    if (query.split !== undefined) add(`${questionAlias ?? 'i'}.split = ?`, query.split);
    if (query.organ === null) add('i.organ IS NULL');
    else if (query.organ !== undefined) add('i.organ = ?', query.organ);
    if (query.modality === null) add('i.modality IS NULL');
    else if (query.modality !== undefined) add('i.modality = ?', query.modality);
    if (query.importId !== undefined) add(`${questionAlias ?? 'i'}.import_id = ?`, query.importId);
    if (questionAlias && 'answerType' in query && query.answerType !== undefined) {
      add(`${questionAlias}.answer_type = ?`, query.answerType);
    }
    if (questionAlias && 'imageId' in query && query.imageId !== undefined) {
      add(`${questionAlias}.image_id = ?`, query.imageId);
    }
    if (questionAlias && 'search' in query && query.search) {
      const pattern = `%${query.search.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
      add(
        `(${questionAlias}.question LIKE ? ESCAPE '\\' OR ${questionAlias}.answer LIKE ? ESCAPE '\\')`,
        pattern,
        pattern,
      );
    }
    return { clause: parts.length ? `WHERE ${parts.join(' AND ')}` : '', params };
  }

  listRecords(query: RecordQuery = {}): { total: number; rows: RecordRow[] } {
    const { clause, params } = this.where(query, 'q');
    const { offset, limit } = page(query.offset, query.limit);
    const from = `FROM questions q JOIN images i ON i.id = q.image_id ${clause}`;
    const total = (this.sql(`SELECT count(*) AS n ${from}`).get(...params) as { n: number }).n;
    const rows = this.sql(
      `SELECT q.id, q.image_id AS imageId, q.question, q.answer, q.answer_type AS answerType, q.split,
         i.organ, i.modality, q.import_id AS importId
       ${from} ORDER BY q.id LIMIT ? OFFSET ?`,
    ).all(...params, limit, offset) as RecordRow[];
    return { total, rows };
  }

  listImages(query: ImageQuery = {}): { total: number; rows: ImageRow[] } {
    const { clause, params } = this.where(query, undefined);
    const { offset, limit } = page(query.offset, query.limit);
    const total = (this.sql(`SELECT count(*) AS n FROM images i ${clause}`).get(...params) as { n: number })
      .n;
    const rows = this.sql(
      `SELECT i.id, i.source_name AS sourceName, i.source_format AS sourceFormat, i.source_width AS sourceWidth,
         i.source_height AS sourceHeight, i.organ, i.modality, i.split, i.import_id AS importId,
         (SELECT count(*) FROM questions q WHERE q.image_id = i.id) AS questions
       FROM images i ${clause} ORDER BY i.id LIMIT ? OFFSET ?`,
    ).all(...params, limit, offset) as ImageRow[];
    return { total, rows };
  }

  thumbnail(imageId: number): { type: string; bytes: Uint8Array } | undefined {
    const row = this.sql('SELECT thumbnail, thumbnail_type AS type FROM images WHERE id = ?').get(imageId) as
      { thumbnail: Buffer; type: string } | undefined;
    return row ? { type: row.type, bytes: row.thumbnail } : undefined;
  }

  imagePixels(imageId: number): GrayImage | undefined {
    const row = this.sql('SELECT size, pixels FROM images WHERE id = ?').get(imageId) as
      { size: number; pixels: Buffer } | undefined;
    return row ? { width: row.size, height: row.size, pixels: row.pixels } : undefined;
  }

  counts(): DataCounts {
    const one = (sql: string) => (this.sql(sql).get() as { n: number }).n;
    const bySplit = (table: 'images' | 'questions') => {
      const out: Record<Split, number> = { train: 0, val: 0 };
      for (const r of this.sql(`SELECT split, count(*) AS n FROM ${table} GROUP BY split`).all() as {
        split: Split;
        n: number;
      }[]) {
        out[r.split] = r.n;
      }
      return out;
    };
    const byAnswerType: Record<AnswerType, number> = { closed: 0, open: 0 };
    for (const r of this.sql(
      'SELECT answer_type AS t, count(*) AS n FROM questions GROUP BY answer_type',
    ).all() as {
      t: AnswerType;
      n: number;
    }[]) {
      byAnswerType[r.t] = r.n;
    }
    const grouped = (column: 'organ' | 'modality') =>
      this.sql(
        `SELECT i.${column} AS value, count(DISTINCT i.id) AS images, count(q.id) AS questions
         FROM images i LEFT JOIN questions q ON q.image_id = i.id
         GROUP BY i.${column} ORDER BY questions DESC, value`,
      ).all() as { value: string | null; images: number; questions: number }[];
    return {
      images: one('SELECT count(*) AS n FROM images'),
      questions: one('SELECT count(*) AS n FROM questions'),
      imagesBySplit: bySplit('images'),
      questionsBySplit: bySplit('questions'),
      questionsByAnswerType: byAnswerType,
      byOrgan: grouped('organ').map(({ value, ...n }) => ({ organ: value, ...n })),
      byModality: grouped('modality').map(({ value, ...n }) => ({ modality: value, ...n })),
      imports: one("SELECT count(*) AS n FROM imports WHERE status = 'completed'"),
    };
  }

  importErrors(importId: number, offset = 0, limit = 100): ItemError[] {
    const p = page(offset, limit);
    return this.sql(
      'SELECT item, message FROM import_errors WHERE import_id = ? ORDER BY seq LIMIT ? OFFSET ?',
    ).all(importId, p.limit, p.offset) as ItemError[];
  }

  imports(options: ImportHistoryQuery = {}): ImportRecord[] {
    const { offset, limit } = page(options.offset, options.limit);
    const rows = this.sql('SELECT * FROM imports ORDER BY id DESC LIMIT ? OFFSET ?').all(limit, offset) as {
      id: number;
      format: RecordedFormat;
      source: string;
      options: string;
      status: ImportRecord['status'];
      started_at: string;
      finished_at: string;
      images_added: number;
      images_existing: number;
      images_failed: number;
      questions_added: number;
      questions_existing: number;
      questions_failed: number;
      questions_skipped: number;
      error_count: number;
      failure: string | null;
      summary: string;
    }[];
    return rows.map((r) => {
      const summary = JSON.parse(r.summary) as {
        skipped?: Record<string, number>;
        notes?: string[];
        droppedTags?: DroppedTag[];
      };
      return {
        id: r.id,
        format: r.format,
        source: r.source,
        options: JSON.parse(r.options) as Record<string, unknown>,
        status: r.status,
        startedAt: r.started_at,
        finishedAt: r.finished_at,
        images: { added: r.images_added, existing: r.images_existing, failed: r.images_failed },
        questions: {
          added: r.questions_added,
          existing: r.questions_existing,
          failed: r.questions_failed,
          skipped: r.questions_skipped,
        },
        errorCount: r.error_count,
        errors: this.importErrors(r.id, 0, options.errorLimit ?? 100),
        failure: r.failure,
        skipped: summary.skipped ?? {},
        ...(summary.droppedTags ? { droppedTags: summary.droppedTags } : {}),
        notes: summary.notes ?? [],
      };
    });
  }

  /** The stored questions and their images in the shape the training engine takes. */
  trainingData(query: TrainingDataQuery = {}): Pick<VqaDataset, 'records' | 'images'> {
    const parts: string[] = [];
    const params: unknown[] = [];
    for (const [column, value] of [
      ['q.split', query.split],
      ['i.organ', query.organ],
      ['i.modality', query.modality],
    ] as const) {
      if (value === undefined) continue;
      parts.push(`${column} = ?`);
      params.push(value);
    }
    const rows = this.sql(
      `SELECT q.id, q.image_id AS imageId, lower(hex(i.content_hash)) AS imageKey, q.question, q.answer,
         q.answer_type AS answerType, q.split, i.organ, i.modality
       FROM questions q JOIN images i ON i.id = q.image_id
       ${parts.length ? `WHERE ${parts.join(' AND ')}` : ''} ORDER BY q.id`,
    ).all(...params) as (Omit<VqaRecord, 'id' | 'organ' | 'modality'> & {
      id: number;
      imageId: number;
      organ: string | null;
      modality: string | null;
    })[];
    const images = new Map<string, GrayImage>();
    const pixels = this.sql('SELECT size, pixels FROM images WHERE id = ?');
    const records: VqaRecord[] = rows.map((r) => {
      if (!images.has(r.imageKey)) {
        const p = pixels.get(r.imageId) as { size: number; pixels: Buffer };
        images.set(r.imageKey, { width: p.size, height: p.size, pixels: p.pixels });
      }
      return {
        id: String(r.id),
        imageKey: r.imageKey,
        question: r.question,
        answer: r.answer,
        answerType: r.answerType,
        split: r.split,
        ...(r.organ ? { organ: r.organ } : {}),
        ...(r.modality ? { modality: r.modality } : {}),
      };
    });
    return { records, images };
  }
}

function strictFailure(errors: ItemError[]): DataInputError {
  const first = errors[0]!;
  return new DataInputError(
    `${plural(errors.length, 'item error')} and strict mode: nothing was imported ` +
      `(first: ${first.item}: ${first.message})`,
  );
}
