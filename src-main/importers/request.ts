import { z } from 'zod';
import { IMPORT_FORMATS, type ImportRequest } from './types.js';

const column = z.string().min(1).max(200);

/**
 * Schema of an import request as it crosses a process boundary (UI → agent → store worker). The SiteApi
 * contract can reuse it; the store worker validates again before touching any file.
 */
export const importRequestSchema = z.strictObject({
  format: z.enum(IMPORT_FORMATS),
  path: z.string().min(1).max(4096),
  options: z
    .strictObject({
      seed: z
        .number()
        .int()
        .min(0)
        .max(2 ** 31 - 1)
        .optional(),
      validationFraction: z.number().min(0).lt(1).optional(),
      questionsFiles: z.array(z.string().min(1).max(4096)).max(16).optional(),
      organs: z.array(z.string().min(1).max(64)).max(64).optional(),
      imagesDir: z.string().min(1).max(4096).optional(),
      columns: z
        .strictObject({
          image: column.optional(),
          question: column.optional(),
          answer: column.optional(),
          answerType: column.optional(),
          split: column.optional(),
          id: column.optional(),
          organ: column.optional(),
          modality: column.optional(),
        })
        .optional(),
      questionsTable: z.string().min(1).max(4096).optional(),
      strict: z.boolean().optional(),
      concurrency: z.number().int().min(1).max(64).optional(),
    })
    .optional(),
});

/** Validates a request, turning schema issues into one readable line. */
export function parseImportRequest(value: unknown): ImportRequest {
  const parsed = importRequestSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(
      `invalid import request: ${issue?.path.join('.') || 'request'}: ${issue?.message ?? 'invalid'}`,
    );
  }
  return parsed.data as ImportRequest;
}
