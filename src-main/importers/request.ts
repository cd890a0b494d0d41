import { importRequestSchema, type ImportRequest } from '../../core/data/site-data-api.js';

export { importRequestSchema };

/** Validates a request as it enters the store worker, turning schema issues into one readable line. */
export function parseImportRequest(value: unknown): ImportRequest {
  const parsed = importRequestSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(
      `invalid import request: ${issue?.path.join('.') || 'request'}: ${issue?.message ?? 'invalid'}`,
    );
  }
  return parsed.data;
}
