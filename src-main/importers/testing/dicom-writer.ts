/**
 * A minimal DICOM Part 10 writer for tests only: it builds fixtures (explicit or implicit VR little
 * endian, uncompressed or encapsulated JPEG) with chosen header values, so tests can prove what the
 * importer keeps and drops. Not for production use: no sequences, no character sets.
 */
export type DicomValue = string | number | number[] | Uint8Array;

export interface FixtureElement {
  /** 0xGGGGEEEE */
  tag: number;
  vr: string;
  value: DicomValue;
}

export const TS = {
  implicitLittle: '1.2.840.10008.1.2',
  explicitLittle: '1.2.840.10008.1.2.1',
  explicitBig: '1.2.840.10008.1.2.2',
  jpegBaseline: '1.2.840.10008.1.2.4.50',
  jpeg2000: '1.2.840.10008.1.2.4.91',
  rle: '1.2.840.10008.1.2.5',
} as const;

const LONG_VRS = new Set(['OB', 'OW', 'OF', 'SQ', 'UT', 'UN']);
const ascii = (text: string) => new TextEncoder().encode(text);

function valueBytes(vr: string, value: DicomValue): Uint8Array {
  let bytes: Uint8Array;
  if (value instanceof Uint8Array) bytes = value;
  else if (vr === 'US' || vr === 'SS') {
    const values = Array.isArray(value) ? value : [Number(value)];
    bytes = new Uint8Array(values.length * 2);
    const view = new DataView(bytes.buffer);
    values.forEach((v, i) => (vr === 'US' ? view.setUint16(2 * i, v, true) : view.setInt16(2 * i, v, true)));
  } else if (vr === 'UL') {
    const values = Array.isArray(value) ? value : [Number(value)];
    bytes = new Uint8Array(values.length * 4);
    const view = new DataView(bytes.buffer);
    values.forEach((v, i) => view.setUint32(4 * i, v, true));
  } else bytes = ascii(Array.isArray(value) ? value.join('\\') : String(value));
  if (bytes.length % 2 === 1) {
    const padded = new Uint8Array(bytes.length + 1);
    padded.set(bytes);
    padded[bytes.length] = vr === 'UI' || vr === 'OB' ? 0 : 0x20;
    bytes = padded;
  }
  return bytes;
}

function header(tag: number, vr: string, length: number, explicit: boolean): Uint8Array {
  const long = !explicit || LONG_VRS.has(vr);
  const out = new Uint8Array(explicit ? (long ? 12 : 8) : 8);
  const view = new DataView(out.buffer);
  view.setUint16(0, tag >>> 16, true);
  view.setUint16(2, tag & 0xffff, true);
  if (!explicit) view.setUint32(4, length, true);
  else {
    out.set(ascii(vr), 4);
    if (long) view.setUint32(8, length, true);
    else view.setUint16(6, length, true);
  }
  return out;
}

const concat = (parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
};

function element(e: FixtureElement, explicit: boolean): Uint8Array {
  const bytes = valueBytes(e.vr, e.value);
  return concat([header(e.tag, e.vr, bytes.length, explicit), bytes]);
}

function encapsulated(frames: Uint8Array[]): Uint8Array {
  const item = (data: Uint8Array) => {
    const padded = valueBytes('OB', data);
    const h = new Uint8Array(8);
    const view = new DataView(h.buffer);
    view.setUint16(0, 0xfffe, true);
    view.setUint16(2, 0xe000, true);
    view.setUint32(4, padded.length, true);
    return concat([h, padded]);
  };
  const delimiter = new Uint8Array(8);
  const view = new DataView(delimiter.buffer);
  view.setUint16(0, 0xfffe, true);
  view.setUint16(2, 0xe0dd, true);
  return concat([
    header(0x7fe00010, 'OB', 0xffffffff, true),
    item(new Uint8Array(0)),
    ...frames.map(item),
    delimiter,
  ]);
}

export interface FixtureOptions {
  transferSyntax: string;
  elements: FixtureElement[];
  /** Uncompressed pixel data (OW for 16-bit, OB for 8-bit). */
  pixels?: { vr: 'OB' | 'OW'; bytes: Uint8Array };
  /** Encapsulated frames (JPEG). */
  frames?: Uint8Array[];
  /** Cut the file to this many bytes (truncated fixtures). */
  truncateTo?: number;
}

export function writeDicom(options: FixtureOptions): Uint8Array {
  const explicit = options.transferSyntax !== TS.implicitLittle;
  const sopInstance = options.elements.find((e) => e.tag === 0x00080018)?.value ?? '1.2.3.4';
  const meta = [
    { tag: 0x00020001, vr: 'OB', value: new Uint8Array([0, 1]) },
    { tag: 0x00020002, vr: 'UI', value: '1.2.840.10008.5.1.4.1.1.7' },
    { tag: 0x00020003, vr: 'UI', value: String(sopInstance) },
    { tag: 0x00020010, vr: 'UI', value: options.transferSyntax },
    { tag: 0x00020012, vr: 'UI', value: '1.2.826.0.1.3680043.8.498.1' },
  ].map((e) => element(e, true));
  const metaBody = concat(meta);
  const groupLength = element({ tag: 0x00020000, vr: 'UL', value: metaBody.length }, true);
  const body = [...options.elements].sort((a, b) => a.tag - b.tag).map((e) => element(e, explicit));
  if (options.pixels)
    body.push(element({ tag: 0x7fe00010, vr: options.pixels.vr, value: options.pixels.bytes }, explicit));
  if (options.frames) body.push(encapsulated(options.frames));
  const file = concat([new Uint8Array(128), ascii('DICM'), groupLength, metaBody, ...body]);
  return options.truncateTo !== undefined ? file.subarray(0, options.truncateTo) : file;
}

/** Header values no stored byte may ever contain: each distinctive enough to search for. */
export const PATIENT_IDENTIFIERS = {
  PatientName: 'ZEBRAFINCH^QUENTIN',
  PatientID: 'PIDX93847561',
  PatientBirthDate: '19450317',
  AccessionNumber: 'ACCN55512345',
  InstitutionName: 'ST XYLOPHONE GENERAL',
  InstitutionAddress: '42 QUOKKA LANE SPRINGFIELD',
  ReferringPhysicianName: 'DR^WOMBATSON',
  PerformingPhysicianName: 'DR^KESTRELINE',
  OperatorsName: 'OP^NARWHALIA',
  StudyDate: '20230914',
  StudyInstanceUID: '1.2.826.0.1.3680043.8.498.5550001',
  SeriesInstanceUID: '1.2.826.0.1.3680043.8.498.5550002',
} as const;

/** The identifying elements of PATIENT_IDENTIFIERS, plus a SOPInstanceUID of the caller's choice. */
export function identifyingElements(sopInstanceUid: string): FixtureElement[] {
  const p = PATIENT_IDENTIFIERS;
  return [
    { tag: 0x00080018, vr: 'UI', value: sopInstanceUid },
    { tag: 0x00080020, vr: 'DA', value: p.StudyDate },
    { tag: 0x00080050, vr: 'SH', value: p.AccessionNumber },
    { tag: 0x00080080, vr: 'LO', value: p.InstitutionName },
    { tag: 0x00080081, vr: 'ST', value: p.InstitutionAddress },
    { tag: 0x00080090, vr: 'PN', value: p.ReferringPhysicianName },
    { tag: 0x00081050, vr: 'PN', value: p.PerformingPhysicianName },
    { tag: 0x00081070, vr: 'PN', value: p.OperatorsName },
    { tag: 0x00100010, vr: 'PN', value: p.PatientName },
    { tag: 0x00100020, vr: 'LO', value: p.PatientID },
    { tag: 0x00100030, vr: 'DA', value: p.PatientBirthDate },
    { tag: 0x0020000d, vr: 'UI', value: p.StudyInstanceUID },
    { tag: 0x0020000e, vr: 'UI', value: p.SeriesInstanceUID },
  ];
}

/** Image attributes for a single-sample image of `rows`×`columns`. */
export function imageElements(options: {
  rows: number;
  columns: number;
  bitsAllocated: 8 | 16;
  bitsStored?: number;
  signed?: boolean;
  photometric?: string;
  samples?: number;
  modality?: string;
  bodyPart?: string;
  window?: { center: number; width: number };
  rescale?: { slope: number; intercept: number };
  frames?: number;
}): FixtureElement[] {
  const out: FixtureElement[] = [
    { tag: 0x00280002, vr: 'US', value: options.samples ?? 1 },
    { tag: 0x00280004, vr: 'CS', value: options.photometric ?? 'MONOCHROME2' },
    { tag: 0x00280010, vr: 'US', value: options.rows },
    { tag: 0x00280011, vr: 'US', value: options.columns },
    { tag: 0x00280100, vr: 'US', value: options.bitsAllocated },
    { tag: 0x00280101, vr: 'US', value: options.bitsStored ?? options.bitsAllocated },
    { tag: 0x00280102, vr: 'US', value: (options.bitsStored ?? options.bitsAllocated) - 1 },
    { tag: 0x00280103, vr: 'US', value: options.signed ? 1 : 0 },
  ];
  if ((options.samples ?? 1) === 3) out.push({ tag: 0x00280006, vr: 'US', value: 0 });
  if (options.modality) out.push({ tag: 0x00080060, vr: 'CS', value: options.modality });
  if (options.bodyPart) out.push({ tag: 0x00180015, vr: 'CS', value: options.bodyPart });
  if (options.window) {
    out.push({ tag: 0x00281050, vr: 'DS', value: String(options.window.center) });
    out.push({ tag: 0x00281051, vr: 'DS', value: String(options.window.width) });
  }
  if (options.rescale) {
    out.push({ tag: 0x00281052, vr: 'DS', value: String(options.rescale.intercept) });
    out.push({ tag: 0x00281053, vr: 'DS', value: String(options.rescale.slope) });
  }
  if (options.frames) out.push({ tag: 0x00280008, vr: 'IS', value: String(options.frames) });
  return out;
}

/** 16-bit little-endian samples. */
export function uint16Bytes(values: ArrayLike<number>, signed = false): Uint8Array {
  const bytes = new Uint8Array(values.length * 2);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < values.length; i++) {
    if (signed) view.setInt16(2 * i, values[i]!, true);
    else view.setUint16(2 * i, values[i]!, true);
  }
  return bytes;
}
