import type { RecordedFormat } from './types.js';

/**
 * Formats that carry a hospital's own files. Their paths and file names can hold patient names
 * (`/exports/DOE_JOHN/…`), so the import history records none of them; public datasets (VQA-RAD,
 * SLAKE) and generated data keep their source path.
 */
export const HOSPITAL_FORMATS: ReadonlySet<RecordedFormat> = new Set(['csv', 'jsonl', 'dicom']);

const LABELS: Partial<Record<RecordedFormat, string>> = {
  csv: 'CSV file (path not stored)',
  jsonl: 'JSONL file (path not stored)',
  dicom: 'DICOM folder (path not stored)',
};

/** What the imports table records as an import's source. */
export function storedSource(format: RecordedFormat, path = ''): string {
  return HOSPITAL_FORMATS.has(format) ? LABELS[format]! : path;
}
