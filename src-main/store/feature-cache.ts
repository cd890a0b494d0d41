import type { Statement } from 'better-sqlite3';
import type { SqliteDatabase } from '../../core/store/sqlite.node.js';
import { fromFloat16, toFloat16 } from '../../core/ml/encoder/float16.js';
import type { FeatureOutput } from '../../core/ml/encoder/image-encoder.node.js';

/** One image's cached features: each output's values, in the order of `outputs`. */
export interface CachedFeatures {
  outputs: FeatureOutput[];
  values: Float32Array[];
}

export interface FeatureRow {
  /** Hex SHA-256 of the image (its `content_hash`; the training data's `imageKey`). */
  imageKey: string;
  /** Hex encoder key (see encoderKey in core/ml/encoder/image-encoder.node.ts). */
  encoderKey: string;
  source: 'import' | 'stored';
  outputs: FeatureOutput[];
  values: Float32Array[];
}

const size = (o: FeatureOutput) => o.shape.reduce((a, b) => a * b, 1);
const hex = (s: string) => Buffer.from(s, 'hex');

/** Frozen encoder features per image (migration 5), stored as float16. */
export class FeatureCache {
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

  /** Writes features (one transaction); features already cached for an image and encoder are kept. */
  put(rows: readonly FeatureRow[]): number {
    const insert = this.sql(
      `INSERT INTO image_features (content_hash, encoder_key, source, layout, features, created_at)
       VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
    );
    const createdAt = new Date().toISOString();
    return this.db.transaction(() => {
      let added = 0;
      for (const row of rows) {
        const total = row.outputs.reduce((n, o) => n + size(o), 0);
        const all = new Float32Array(total);
        let offset = 0;
        row.outputs.forEach((o, i) => {
          const v = row.values[i]!;
          if (v.length !== size(o))
            throw new Error(`features '${o.name}' hold ${v.length} values, expected ${size(o)}`);
          all.set(v, offset);
          offset += v.length;
        });
        const half = toFloat16(all);
        const bytes = Buffer.from(half.buffer, half.byteOffset, half.byteLength);
        const layout = JSON.stringify(row.outputs);
        added += insert.run(
          hex(row.imageKey),
          hex(row.encoderKey),
          row.source,
          layout,
          bytes,
          createdAt,
        ).changes;
      }
      return added;
    })();
  }

  /**
   * Cached features of the given images for one encoder (only the named `outputs`, when given);
   * images without any are absent from the map.
   */
  get(
    imageKeys: readonly string[],
    encoderKey: string,
    outputs?: readonly string[],
  ): Map<string, CachedFeatures> {
    const select = this.sql(
      'SELECT layout, features FROM image_features WHERE content_hash = ? AND encoder_key = ?',
    );
    const out = new Map<string, CachedFeatures>();
    const key = hex(encoderKey);
    for (const imageKey of new Set(imageKeys)) {
      const row = select.get(hex(imageKey), key) as { layout: string; features: Buffer } | undefined;
      if (!row) continue;
      const layout = JSON.parse(row.layout) as FeatureOutput[];
      // Copy into an aligned buffer: SQLite's Buffer may start at an odd offset.
      const bits = new Uint16Array(row.features.length / 2);
      new Uint8Array(bits.buffer).set(row.features);
      const picked: CachedFeatures = { outputs: [], values: [] };
      let offset = 0;
      for (const o of layout) {
        const n = size(o);
        if (!outputs || outputs.includes(o.name)) {
          picked.outputs.push(o);
          picked.values.push(fromFloat16(bits.subarray(offset, offset + n)));
        }
        offset += n;
      }
      const missing = outputs?.find((name) => !layout.some((o) => o.name === name));
      if (missing) throw new Error(`the cached features have no output '${missing}'`);
      out.set(imageKey, picked);
    }
    return out;
  }

  /**
   * Stored images (key and pixels) among `imageKeys` (all stored images when absent) that have no
   * features for `encoderKey` yet.
   */
  missing(
    encoderKey: string,
    imageKeys?: readonly string[],
  ): { imageKey: string; size: number; pixels: Uint8Array }[] {
    const rows = this.sql(
      `SELECT lower(hex(i.content_hash)) AS imageKey, i.size, i.pixels FROM images i
       WHERE NOT EXISTS (SELECT 1 FROM image_features f WHERE f.content_hash = i.content_hash AND f.encoder_key = ?)
       ORDER BY i.id`,
    ).all(hex(encoderKey)) as { imageKey: string; size: number; pixels: Buffer }[];
    const wanted = imageKeys ? new Set(imageKeys) : undefined;
    return rows
      .filter((r) => !wanted || wanted.has(r.imageKey))
      .map((r) => ({ imageKey: r.imageKey, size: r.size, pixels: new Uint8Array(r.pixels) }));
  }

  count(encoderKey: string): number {
    return (
      this.sql('SELECT count(*) AS n FROM image_features WHERE encoder_key = ?').get(hex(encoderKey)) as {
        n: number;
      }
    ).n;
  }
}
