import { createRequire } from 'node:module';
import type * as DicomParser from 'dicom-parser';
import type { RawPixels } from './image.node.js';
import { MAX_IMAGE_SIDE } from './image.node.js';

// dicom-parser ships a UMD bundle (it requires Node's zlib for deflated files), whose named exports an
// ES module import cannot see; load it through require.
const dicomParser = createRequire(import.meta.url)('dicom-parser') as typeof DicomParser;

/** Transfer syntaxes Cohort decodes. Everything else is reported as unsupported, by name when known. */
export const SUPPORTED_TRANSFER_SYNTAXES: Readonly<Record<string, string>> = {
  '1.2.840.10008.1.2': 'Implicit VR Little Endian',
  '1.2.840.10008.1.2.1': 'Explicit VR Little Endian',
  '1.2.840.10008.1.2.4.50': 'JPEG Baseline (Process 1)',
};

const OTHER_TRANSFER_SYNTAXES: Readonly<Record<string, string>> = {
  '1.2.840.10008.1.2.1.99': 'Deflated Explicit VR Little Endian',
  '1.2.840.10008.1.2.2': 'Explicit VR Big Endian',
  '1.2.840.10008.1.2.4.51': 'JPEG Extended (Process 2 & 4)',
  '1.2.840.10008.1.2.4.57': 'JPEG Lossless (Process 14)',
  '1.2.840.10008.1.2.4.70': 'JPEG Lossless (Process 14, SV1)',
  '1.2.840.10008.1.2.4.80': 'JPEG-LS Lossless',
  '1.2.840.10008.1.2.4.81': 'JPEG-LS Near-Lossless',
  '1.2.840.10008.1.2.4.90': 'JPEG 2000 (Lossless Only)',
  '1.2.840.10008.1.2.4.91': 'JPEG 2000',
  '1.2.840.10008.1.2.4.201': 'High-Throughput JPEG 2000 (Lossless Only)',
  '1.2.840.10008.1.2.4.203': 'High-Throughput JPEG 2000',
  '1.2.840.10008.1.2.5': 'RLE Lossless',
};

/**
 * Attributes that identify a patient, a visit or the people and places involved (after the DICOM basic
 * confidentiality profile, PS3.15 E.1). Cohort keeps none of the header anyway (only pixels, Modality
 * and BodyPartExamined); this list names what an import summary reports as dropped.
 */
export const IDENTIFYING_TAGS: Readonly<Record<string, string>> = {
  x00100010: 'PatientName',
  x00100020: 'PatientID',
  x00100021: 'IssuerOfPatientID',
  x00100030: 'PatientBirthDate',
  x00100032: 'PatientBirthTime',
  x00100040: 'PatientSex',
  x00101000: 'OtherPatientIDs',
  x00101001: 'OtherPatientNames',
  x00101010: 'PatientAge',
  x00101020: 'PatientSize',
  x00101030: 'PatientWeight',
  x00101040: 'PatientAddress',
  x00102154: 'PatientTelephoneNumbers',
  x00104000: 'PatientComments',
  x00080050: 'AccessionNumber',
  x00080080: 'InstitutionName',
  x00080081: 'InstitutionAddress',
  x00081040: 'InstitutionalDepartmentName',
  x00080090: 'ReferringPhysicianName',
  x00081048: 'PhysiciansOfRecord',
  x00081050: 'PerformingPhysicianName',
  x00081060: 'NameOfPhysiciansReadingStudy',
  x00081070: 'OperatorsName',
  x00321032: 'RequestingPhysician',
  x00080020: 'StudyDate',
  x00080021: 'SeriesDate',
  x00080022: 'AcquisitionDate',
  x00080023: 'ContentDate',
  x00080030: 'StudyTime',
  x00080031: 'SeriesTime',
  x00080032: 'AcquisitionTime',
  x00080033: 'ContentTime',
  x0008002a: 'AcquisitionDateTime',
  x00200010: 'StudyID',
  x0020000d: 'StudyInstanceUID',
  x0020000e: 'SeriesInstanceUID',
  x00080018: 'SOPInstanceUID',
  x00020003: 'MediaStorageSOPInstanceUID',
  x00081030: 'StudyDescription',
  x0008103e: 'SeriesDescription',
  x00081010: 'StationName',
  x00181000: 'DeviceSerialNumber',
};

/** Formats a dicom-parser tag key (`x00100010`) the way people write tags: `(0010,0010)`. */
export const formatTag = (key: string) => `(${key.slice(1, 5).toUpperCase()},${key.slice(5).toUpperCase()})`;

export class DicomError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DicomError';
  }
}

export interface DicomImage {
  transferSyntax: string;
  width: number;
  height: number;
  frames: number;
  /** Sanitised Modality (0008,0060) and BodyPartExamined (0018,0015): short codes only. */
  modality?: string;
  bodyPart?: string;
  /** For joining question rows to files during an import only. Never store it: UIDs link to a patient. */
  sopInstanceUid?: string;
  /** Keywords of the identifying attributes (IDENTIFYING_TAGS) present in the file: all dropped. */
  identifyingTags: string[];
  /** The first frame, ready for `decodeForStore`. */
  frame: { kind: 'raw'; raw: RawPixels } | { kind: 'jpeg'; bytes: Uint8Array; invert: boolean };
  /**
   * What identifies the image's content for deduplication: geometry plus the first frame's pixel bytes,
   * not the whole file, whose header carries the identifiers (and differs between re-exports).
   */
  contentKey: Uint8Array;
}

const reason = (error: unknown): string => {
  const inner = (error as { exception?: unknown })?.exception ?? error;
  const text = inner instanceof Error ? inner.message : String(inner);
  return text.replace(/^dicomParser\.[\w.]+:\s*/, '').split('\n')[0]!;
};

/** Keeps a code-string value only if it looks like a code (letters, digits, spaces, underscores). */
const codeString = (value: string | undefined, maxLength: number) => {
  const v = value?.trim().toUpperCase();
  return v && v.length <= maxLength && /^[A-Z0-9 _]+$/.test(v) ? v : undefined;
};

/**
 * Parses one DICOM Part 10 file and extracts its first frame as 8-bit pixels (uncompressed) or as the
 * embedded baseline JPEG. 16-bit data is mapped to 8 bits with the file's first window (center/width,
 * after the modality rescale) or, without one, by min-max. MONOCHROME1 is inverted.
 */
export function parseDicomImage(bytes: Uint8Array): DicomImage {
  let meta: DicomParser.DataSet;
  try {
    meta = dicomParser.readPart10Header(bytes);
  } catch (error) {
    throw new DicomError(`not a DICOM Part 10 file (${reason(error)})`);
  }
  const transferSyntax = meta.string('x00020010')?.replace(/\0/g, '').trim() ?? '';
  if (!SUPPORTED_TRANSFER_SYNTAXES[transferSyntax]) {
    const name = OTHER_TRANSFER_SYNTAXES[transferSyntax];
    // Echo the UID only if it looks like one: whatever else a broken header holds stays out of messages.
    const shown = /^[0-9.]{1,64}$/.test(transferSyntax)
      ? transferSyntax
      : transferSyntax
        ? 'not a UID'
        : 'missing';
    throw new DicomError(
      `unsupported transfer syntax ${name ? `${name} (${transferSyntax})` : `'${shown}'`}; ` +
        'Cohort reads uncompressed little-endian and baseline JPEG',
    );
  }
  let data: DicomParser.DataSet;
  try {
    data = dicomParser.parseDicom(bytes);
  } catch (error) {
    throw new DicomError(`corrupt or truncated DICOM file (${reason(error)})`);
  }
  const identifyingTags = Object.keys(IDENTIFYING_TAGS)
    .filter((tag) => data.elements[tag] !== undefined)
    .map((tag) => IDENTIFYING_TAGS[tag]!);
  const pixelElement = data.elements.x7fe00010;
  if (!pixelElement) throw new DicomError('no pixel data: the file holds no image');
  const height = data.uint16('x00280010') ?? 0;
  const width = data.uint16('x00280011') ?? 0;
  if (width <= 0 || height <= 0) throw new DicomError(`image has no pixels (${width}×${height})`);
  if (width > MAX_IMAGE_SIDE || height > MAX_IMAGE_SIDE) {
    throw new DicomError(
      `image is ${width}×${height}, larger than the ${MAX_IMAGE_SIDE}-pixel limit per side`,
    );
  }
  if ((data.string('x00280301') ?? '').trim().toUpperCase() === 'YES') {
    throw new DicomError(
      'BurnedInAnnotation is YES: the pixels may show patient identifiers, so it is not imported',
    );
  }
  const samples = data.uint16('x00280002') ?? 1;
  const bitsAllocated = data.uint16('x00280100') ?? 8;
  const bitsStored = data.uint16('x00280101') ?? bitsAllocated;
  const signed = (data.uint16('x00280103') ?? 0) === 1;
  const photometric = codeString(data.string('x00280004') ?? 'MONOCHROME2', 16) ?? 'NOT A CODE STRING';
  const frames = Math.max(1, data.intString('x00280008') ?? 1);
  const common = {
    transferSyntax,
    width,
    height,
    frames,
    identifyingTags,
    ...(codeString(data.string('x00080060'), 16)
      ? { modality: codeString(data.string('x00080060'), 16)! }
      : {}),
    ...(codeString(data.string('x00180015'), 16)
      ? { bodyPart: codeString(data.string('x00180015'), 16)! }
      : {}),
    ...(data.string('x00080018')
      ? { sopInstanceUid: data.string('x00080018')!.replace(/\0/g, '').trim() }
      : {}),
  };
  const geometry = new TextEncoder().encode(
    `cohort/dicom-pixels/v1|${width}|${height}|${samples}|${bitsAllocated}|${photometric}|`,
  );
  const withGeometry = (pixels: Uint8Array) => {
    const key = new Uint8Array(geometry.length + pixels.length);
    key.set(geometry);
    key.set(pixels, geometry.length);
    return key;
  };

  if (transferSyntax === '1.2.840.10008.1.2.4.50') {
    if (!pixelElement.encapsulatedPixelData || !pixelElement.fragments?.length) {
      throw new DicomError('JPEG transfer syntax but the pixel data is not encapsulated');
    }
    let jpeg: Uint8Array;
    try {
      jpeg =
        frames === 1
          ? dicomParser.readEncapsulatedPixelDataFromFragments(
              data,
              pixelElement,
              0,
              pixelElement.fragments.length,
            )
          : dicomParser.readEncapsulatedImageFrame(
              data,
              pixelElement,
              0,
              pixelElement.basicOffsetTable?.length
                ? pixelElement.basicOffsetTable
                : dicomParser.createJPEGBasicOffsetTable(data, pixelElement),
            );
    } catch (error) {
      throw new DicomError(`cannot read the JPEG frame (${reason(error)})`);
    }
    if (!(jpeg[0] === 0xff && jpeg[1] === 0xd8)) throw new DicomError('the encapsulated frame is not a JPEG');
    return {
      ...common,
      frame: { kind: 'jpeg', bytes: jpeg, invert: photometric === 'MONOCHROME1' },
      contentKey: withGeometry(jpeg),
    };
  }

  if (pixelElement.encapsulatedPixelData)
    throw new DicomError('uncompressed transfer syntax but encapsulated pixel data');
  if (bitsAllocated !== 8 && bitsAllocated !== 16) {
    throw new DicomError(`${bitsAllocated} bits allocated per sample is not supported (8 or 16)`);
  }
  if (bitsStored < 1 || bitsStored > bitsAllocated) throw new DicomError(`invalid BitsStored ${bitsStored}`);
  const bytesPerSample = bitsAllocated / 8;
  const frameBytes = width * height * samples * bytesPerSample;
  const available = Math.min(pixelElement.length, bytes.length - pixelElement.dataOffset);
  if (available < frameBytes) {
    throw new DicomError(
      `pixel data is truncated (${Math.max(0, available)} of ${frameBytes} bytes for one frame)`,
    );
  }
  const pixelBytes = bytes.subarray(pixelElement.dataOffset, pixelElement.dataOffset + frameBytes);

  if (samples === 3) {
    if (photometric !== 'RGB' || bitsAllocated !== 8) {
      throw new DicomError(
        `uncompressed ${photometric} with ${bitsAllocated} bits is not supported (RGB, 8 bits)`,
      );
    }
    const planar = (data.uint16('x00280006') ?? 0) === 1;
    const rgb = planar ? interleave(pixelBytes, width * height) : pixelBytes.slice();
    return {
      ...common,
      frame: { kind: 'raw', raw: { width, height, channels: 3, pixels: rgb } },
      contentKey: withGeometry(pixelBytes),
    };
  }
  if (samples !== 1) throw new DicomError(`${samples} samples per pixel is not supported (1 or 3)`);
  if (photometric !== 'MONOCHROME1' && photometric !== 'MONOCHROME2') {
    throw new DicomError(
      `photometric interpretation ${photometric} is not supported for one sample per pixel`,
    );
  }
  const values = readSamples(pixelBytes, width * height, bitsAllocated, bitsStored, signed);
  const slope = data.floatString('x00281053') ?? 1;
  const intercept = data.floatString('x00281052') ?? 0;
  const center = data.floatString('x00281050', 0);
  const windowWidth = data.floatString('x00281051', 0);
  const gray = toEightBits(values, {
    slope: Number.isFinite(slope) && slope !== 0 ? slope : 1,
    intercept: Number.isFinite(intercept) ? intercept : 0,
    window:
      center !== undefined && windowWidth !== undefined && Number.isFinite(center) && windowWidth >= 1
        ? { center, width: windowWidth }
        : undefined,
    identity: bitsAllocated === 8 && slope === 1 && intercept === 0,
    invert: photometric === 'MONOCHROME1',
  });
  return {
    ...common,
    frame: { kind: 'raw', raw: { width, height, channels: 1, pixels: gray } },
    contentKey: withGeometry(pixelBytes),
  };
}

function interleave(planar: Uint8Array, count: number): Uint8Array {
  const out = new Uint8Array(count * 3);
  for (let i = 0; i < count; i++) {
    out[3 * i] = planar[i]!;
    out[3 * i + 1] = planar[count + i]!;
    out[3 * i + 2] = planar[2 * count + i]!;
  }
  return out;
}

/** Stored sample values (masked to BitsStored, sign-extended when PixelRepresentation is 1). */
function readSamples(
  bytes: Uint8Array,
  count: number,
  bitsAllocated: number,
  bitsStored: number,
  signed: boolean,
) {
  const out = new Float64Array(count);
  const mask = bitsStored >= 32 ? 0xffffffff : (1 << bitsStored) - 1;
  const signBit = 1 << (bitsStored - 1);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < count; i++) {
    let v = (bitsAllocated === 16 ? view.getUint16(2 * i, true) : bytes[i]!) & mask;
    if (signed && v & signBit) v -= 1 << bitsStored;
    out[i] = v;
  }
  return out;
}

/** Window/level per PS3.3 C.11.2.1.2 (linear), or min-max when there is no window. */
export function toEightBits(
  values: Float64Array,
  options: {
    slope: number;
    intercept: number;
    window?: { center: number; width: number } | undefined;
    identity?: boolean;
    invert?: boolean;
  },
): Uint8Array {
  const out = new Uint8Array(values.length);
  const { slope, intercept, window } = options;
  if (options.identity && !window) {
    for (let i = 0; i < values.length; i++) out[i] = values[i]!;
  } else if (window) {
    const low = window.center - 0.5 - (window.width - 1) / 2;
    const high = window.center - 0.5 + (window.width - 1) / 2;
    for (let i = 0; i < values.length; i++) {
      const x = values[i]! * slope + intercept;
      out[i] =
        x <= low
          ? 0
          : x > high
            ? 255
            : Math.round(((x - (window.center - 0.5)) / (window.width - 1) + 0.5) * 255);
    }
  } else {
    let min = Infinity;
    let max = -Infinity;
    for (const v of values) {
      const x = v * slope + intercept;
      if (x < min) min = x;
      if (x > max) max = x;
    }
    const range = max - min;
    for (let i = 0; i < values.length; i++) {
      out[i] = range > 0 ? Math.round(((values[i]! * slope + intercept - min) / range) * 255) : 0;
    }
  }
  if (options.invert) for (let i = 0; i < out.length; i++) out[i] = 255 - out[i]!;
  return out;
}
