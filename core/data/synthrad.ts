/**
 * SynthRad-VQA: a procedural generator of radiograph-like grayscale images with findings, and templated
 * questions about them (closed yes/no and open), deterministic from a seed. Named presets model
 * different hospitals (organ and modality mix, contrast, noise, blur, prevalence, question mix), so
 * federated experiments see realistic heterogeneity without any real patient data.
 *
 * Sides follow the radiological convention: the patient's left is on the image's right.
 */
import { Rng } from '../ml/rng.js';
import { splitForImage } from './split.js';
import { STORED_IMAGE_SIZE, type GrayImage, type VqaDataset, type VqaRecord } from './types.js';

export type Organ = 'chest' | 'head' | 'abdomen';
export type Modality = 'x-ray' | 'ct' | 'mri';
export type FindingType =
  | 'nodule'
  | 'opacity'
  | 'effusion'
  | 'fracture'
  | 'cardiomegaly'
  | 'hemorrhage'
  | 'mass'
  | 'infarct'
  | 'cyst'
  | 'kidney stone';
export type Side = 'left' | 'right';
export type Region = 'upper' | 'lower';

export interface Finding {
  type: FindingType;
  side: Side;
  region: Region;
  count: number;
}

export interface SynthKnobs {
  /** Relative weights of the organs imaged. */
  organMix: Record<Organ, number>;
  /** Share of chest/abdomen images that are CT rather than x-ray, and of head images that are MRI rather than CT. */
  ctShare: number;
  mriShare: number;
  /** Contrast multiplier (1 = nominal); each image varies ±contrastJitter around it. */
  contrast: number;
  contrastJitter: number;
  /** Gaussian noise σ on a 0–1 intensity scale. */
  noise: number;
  /** Box-blur radius in pixels (0 = sharp). */
  blur: number;
  /** Probability that an image shows at least one finding. */
  prevalence: number;
  /** Share of closed (yes/no) questions. */
  closedShare: number;
  questionsPerImage: number;
  validationFraction: number;
}

export interface SynthRadOptions extends Partial<SynthKnobs> {
  preset: string;
  /** Number of question records to generate (images = ⌈n / questionsPerImage⌉). */
  n: number;
  seed: number;
}

const BASE_KNOBS: SynthKnobs = {
  organMix: { chest: 1, head: 1, abdomen: 1 },
  ctShare: 0.5,
  mriShare: 0.5,
  contrast: 1,
  contrastJitter: 0.15,
  noise: 0.03,
  blur: 0,
  prevalence: 0.55,
  closedShare: 0.6,
  questionsPerImage: 4,
  validationFraction: 0.2,
};

type SynthPreset = { description: string; knobs: Partial<SynthKnobs> };

/**
 * Named presets, each a plausible kind of hospital. `pretrain` is the broad mix the base model learns from.
 * Without a prototype, so a name from the command line or the site API such as `__proto__` or
 * `constructor` finds nothing rather than Object's own members.
 */
export const SYNTHRAD_PRESETS: Record<string, SynthPreset> = Object.assign(
  Object.create(null) as Record<string, SynthPreset>,
  {
    general: { description: 'general hospital: every organ and modality, nominal image quality', knobs: {} },
    'chest-clinic': {
      description: 'chest clinic: mostly chest x-rays, many positive findings',
      knobs: { organMix: { chest: 8, head: 1, abdomen: 1 }, ctShare: 0.2, prevalence: 0.7, noise: 0.04 },
    },
    'neuro-center': {
      description: 'neurology centre: mostly head MRI/CT, high contrast',
      knobs: { organMix: { chest: 1, head: 8, abdomen: 1 }, mriShare: 0.7, contrast: 1.3, prevalence: 0.5 },
    },
    'abdominal-imaging': {
      description: 'abdominal imaging unit: mostly abdominal CT, more open questions',
      knobs: { organMix: { chest: 1, head: 1, abdomen: 8 }, ctShare: 0.85, closedShare: 0.45, noise: 0.025 },
    },
    'rural-xray': {
      description: 'rural hospital: older x-ray equipment (low contrast, noisy, blurred), few findings',
      knobs: {
        organMix: { chest: 6, head: 1, abdomen: 3 },
        ctShare: 0.1,
        mriShare: 0.2,
        contrast: 0.6,
        noise: 0.08,
        blur: 1.5,
        prevalence: 0.35,
        closedShare: 0.75,
      },
    },
    pretrain: {
      description: 'base-model pretraining corpus: all organs, wide quality variation',
      knobs: { contrastJitter: 0.35, noise: 0.05, blur: 0.6, prevalence: 0.6, closedShare: 0.55 },
    },
  },
);

const FINDINGS_BY_ORGAN: Record<Organ, FindingType[]> = {
  chest: ['nodule', 'opacity', 'effusion', 'fracture', 'cardiomegaly'],
  head: ['hemorrhage', 'mass', 'infarct', 'fracture'],
  abdomen: ['mass', 'cyst', 'kidney stone', 'effusion'],
};

const PLANE: Record<Modality, string> = { 'x-ray': 'pa', ct: 'axial', mri: 'axial' };
const ORGAN_ANSWER: Record<Organ, string> = { chest: 'chest', head: 'brain', abdomen: 'abdomen' };

function locationAnswer(organ: Organ, f: Finding): string {
  if (organ === 'chest') return `${f.side} ${f.region} lobe`;
  if (organ === 'head') return `${f.side} ${f.region === 'upper' ? 'frontal' : 'occipital'} lobe`;
  return f.type === 'kidney stone' || f.region === 'lower'
    ? `${f.side} kidney`
    : f.side === 'right'
      ? 'liver'
      : 'spleen';
}

/** Every answer the templates can produce (the SynthRad label space), in a fixed order. */
export const SYNTHRAD_ANSWERS: readonly string[] = (() => {
  const set = new Set<string>([
    'yes',
    'no',
    'chest',
    'brain',
    'abdomen',
    'x-ray',
    'ct',
    'mri',
    'left',
    'right',
  ]);
  for (const p of Object.values(PLANE)) set.add(p);
  set.add('coronal');
  for (const n of ['1', '2', '3']) set.add(n);
  for (const list of Object.values(FINDINGS_BY_ORGAN)) for (const f of list) set.add(f);
  for (const organ of ['chest', 'head', 'abdomen'] as Organ[]) {
    for (const side of ['left', 'right'] as Side[]) {
      for (const region of ['upper', 'lower'] as Region[]) {
        for (const type of FINDINGS_BY_ORGAN[organ])
          set.add(locationAnswer(organ, { type, side, region, count: 1 }));
      }
    }
  }
  return [...set];
})();

// ---- rendering ---------------------------------------------------------------------------------------

class Canvas {
  readonly v: Float32Array;
  constructor(readonly size: number) {
    this.v = new Float32Array(size * size);
  }
  /** Soft-edged filled ellipse (centre, radii and angle in pixels/radians), blended towards `value`. */
  ellipse(
    cx: number,
    cy: number,
    rx: number,
    ry: number,
    value: number,
    opts: { soft?: number; angle?: number; mode?: 'set' | 'add' } = {},
  ) {
    const soft = opts.soft ?? 1.5;
    const cos = Math.cos(opts.angle ?? 0);
    const sin = Math.sin(opts.angle ?? 0);
    const r = Math.max(rx, ry) + soft * 2;
    const x0 = Math.max(0, Math.floor(cx - r));
    const x1 = Math.min(this.size - 1, Math.ceil(cx + r));
    const y0 = Math.max(0, Math.floor(cy - r));
    const y1 = Math.min(this.size - 1, Math.ceil(cy + r));
    for (let y = y0; y <= y1; y++) {
      for (let x = x0; x <= x1; x++) {
        const dx = x - cx;
        const dy = y - cy;
        const u = (dx * cos + dy * sin) / rx;
        const w = (-dx * sin + dy * cos) / ry;
        const dist = (Math.sqrt(u * u + w * w) - 1) * Math.min(rx, ry);
        const a = dist <= -soft ? 1 : dist >= soft ? 0 : 0.5 - dist / (2 * soft);
        if (a <= 0) continue;
        const i = y * this.size + x;
        if (opts.mode === 'add') this.v[i] = this.v[i]! + a * value;
        else this.v[i] = this.v[i]! * (1 - a) + value * a;
      }
    }
  }
  /** A line segment of the given width. */
  line(x0: number, y0: number, x1: number, y1: number, width: number, value: number) {
    const len = Math.hypot(x1 - x0, y1 - y0);
    const steps = Math.max(1, Math.ceil(len));
    for (let s = 0; s <= steps; s++) {
      const t = s / steps;
      this.ellipse(x0 + (x1 - x0) * t, y0 + (y1 - y0) * t, width / 2, width / 2, value, { soft: 0.6 });
    }
  }
  boxBlur(radius: number) {
    const r = Math.round(radius);
    if (r <= 0) return;
    const n = this.size;
    const tmp = new Float32Array(n * n);
    for (let pass = 0; pass < 2; pass++) {
      const src = pass === 0 ? this.v : tmp;
      const dst = pass === 0 ? tmp : this.v;
      for (let a = 0; a < n; a++) {
        for (let b = 0; b < n; b++) {
          let sum = 0;
          let count = 0;
          for (let k = -r; k <= r; k++) {
            const bb = b + k;
            if (bb < 0 || bb >= n) continue;
            sum += pass === 0 ? src[a * n + bb]! : src[bb * n + a]!;
            count++;
          }
          if (pass === 0) dst[a * n + b] = sum / count;
          else dst[b * n + a] = sum / count;
        }
      }
    }
  }
}

interface ImageSpec {
  organ: Organ;
  modality: Modality;
  findings: Finding[];
}

/** Side → image x: the patient's left is the image's right. */
const sideX = (side: Side, centre: number, offset: number) =>
  side === 'left' ? centre + offset : centre - offset;

function renderImage(spec: ImageSpec, knobs: SynthKnobs, rng: Rng): GrayImage {
  const S = STORED_IMAGE_SIZE;
  const c = new Canvas(S);
  const j = (x: number, amount = 0.06) => x * (1 + (rng.next() * 2 - 1) * amount);
  const has = (t: FindingType) => spec.findings.find((f) => f.type === t);
  const mid = S / 2;
  if (spec.organ === 'chest') {
    if (spec.modality === 'x-ray') {
      c.ellipse(mid, mid + 4, j(54), j(60), 0.55, { soft: 4 }); // body
      const lungY = mid - 4;
      for (const side of ['left', 'right'] as Side[]) {
        const lx = sideX(side, mid, j(22));
        c.ellipse(lx, lungY, j(18), j(38), 0.12, { soft: 4 }); // aerated lung (dark)
        for (let k = 0; k < 6; k++) {
          const y = lungY - 30 + k * 11 + rng.range(-1, 1);
          c.line(mid + (side === 'left' ? 6 : -6), y, lx + (side === 'left' ? 20 : -20), y + 7, 1.6, 0.45); // ribs
        }
      }
      c.line(mid, 10, mid, S - 6, 7, 0.7); // spine
      const heart = has('cardiomegaly') ? 1.5 : 1;
      c.ellipse(mid + 8 * heart, mid + 18, j(16) * heart, j(14) * heart, 0.62, { soft: 3 });
    } else {
      c.ellipse(mid, mid, j(58), j(44), 0.5, { soft: 2 }); // body
      for (const side of ['left', 'right'] as Side[])
        c.ellipse(sideX(side, mid, j(24)), mid - 2, j(20), j(30), 0.08, { soft: 2 });
      const heart = has('cardiomegaly') ? 1.45 : 1;
      c.ellipse(mid + 4, mid + 6, j(13) * heart, j(12) * heart, 0.6);
      c.ellipse(mid, mid + 34, 7, 7, 0.9); // vertebra
    }
  } else if (spec.organ === 'head') {
    const ct = spec.modality === 'ct';
    c.ellipse(mid, mid, j(50), j(58), ct ? 0.95 : 0.15, { soft: 1.5 }); // skull
    c.ellipse(mid, mid, j(45), j(53), ct ? 0.42 : 0.55, { soft: 1.5 }); // brain
    for (const side of ['left', 'right'] as Side[])
      c.ellipse(sideX(side, mid, 6), mid - 2, j(4), j(14), ct ? 0.2 : 0.85, {
        angle: side === 'left' ? -0.2 : 0.2,
      }); // ventricles
    if (!ct)
      for (let k = 0; k < 8; k++)
        c.ellipse(mid + rng.range(-30, 30), mid + rng.range(-38, 38), 8, 3, 0.45, {
          mode: 'set',
          angle: rng.range(0, 3),
        }); // sulci texture
  } else {
    if (spec.modality === 'x-ray') {
      c.ellipse(mid, mid, j(56), j(60), 0.5, { soft: 4 });
      c.line(mid, 6, mid, S - 6, 8, 0.72);
      for (let k = 0; k < 6; k++)
        c.ellipse(mid + rng.range(-35, 35), mid + rng.range(-30, 40), rng.range(4, 9), rng.range(3, 6), 0.15); // bowel gas
    } else {
      c.ellipse(mid, mid, j(58), j(46), 0.45, { soft: 2 });
      c.ellipse(sideX('right', mid, 24), mid - 10, j(22), j(18), 0.62); // liver (patient's right)
      c.ellipse(sideX('left', mid, 28), mid - 12, j(10), j(8), 0.58); // spleen
      for (const side of ['left', 'right'] as Side[])
        c.ellipse(sideX(side, mid, 22), mid + 16, j(7), j(10), 0.66); // kidneys
      c.ellipse(mid, mid + 26, 7, 7, 0.92); // vertebra
      for (let k = 0; k < 4; k++)
        c.ellipse(mid + rng.range(-20, 20), mid + rng.range(-5, 20), rng.range(2, 5), rng.range(2, 4), 0.1);
    }
  }
  for (const f of spec.findings) drawFinding(c, spec, f, rng);
  c.boxBlur(knobs.blur);
  const contrast = knobs.contrast * (1 + (rng.next() * 2 - 1) * knobs.contrastJitter);
  const brightness = rng.range(-0.06, 0.06);
  const pixels = new Uint8Array(S * S);
  for (let i = 0; i < S * S; i++) {
    const v = (c.v[i]! - 0.4) * contrast + 0.4 + brightness + rng.normal() * knobs.noise;
    pixels[i] = Math.max(0, Math.min(255, Math.round(v * 255)));
  }
  return { width: S, height: S, pixels };
}

function drawFinding(c: Canvas, spec: ImageSpec, f: Finding, rng: Rng) {
  const mid = c.size / 2;
  const yOff = f.region === 'upper' ? -18 : 16;
  const x = (offset: number) => sideX(f.side, mid, offset);
  switch (f.type) {
    case 'nodule':
      for (let k = 0; k < f.count; k++)
        c.ellipse(
          x(rng.range(14, 30)),
          mid - 4 + yOff + rng.range(-8, 8) + (k - 1) * 7,
          rng.range(2.5, 4),
          rng.range(2.5, 4),
          0.85,
          { soft: 0.8 },
        );
      break;
    case 'opacity':
      c.ellipse(x(22), mid - 4 + yOff, rng.range(10, 14), rng.range(9, 13), 0.28, { soft: 5, mode: 'add' });
      break;
    case 'effusion':
      if (spec.organ === 'chest') c.ellipse(x(22), mid + 30, 19, 12, 0.62, { soft: 3 });
      else c.ellipse(x(44), mid + yOff, 9, 22, 0.12, { soft: 3 }); // ascites at the abdominal wall
      break;
    case 'fracture':
      if (spec.organ === 'head')
        c.line(x(44), mid + yOff - 8, x(51), mid + yOff + 4, 2.2, spec.modality === 'ct' ? 0.2 : 0.6);
      else c.line(x(16), mid + yOff - 6, x(34), mid + yOff + 2, 1.4, 0.08); // break line across a rib
      break;
    case 'cardiomegaly':
      break; // drawn as an enlarged heart
    case 'hemorrhage':
      c.ellipse(x(rng.range(14, 26)), mid + yOff, rng.range(6, 9), rng.range(5, 8), 0.88, { soft: 1.2 });
      break;
    case 'mass': {
      const cx = spec.organ === 'abdomen' ? x(22) : x(rng.range(14, 26));
      const cy = spec.organ === 'abdomen' ? mid + (f.region === 'upper' ? -10 : 16) : mid + yOff;
      c.ellipse(cx, cy, 8, 8, 0.85, { soft: 1 });
      c.ellipse(cx, cy, 5, 5, 0.35, { soft: 1 });
      break;
    }
    case 'infarct':
      c.ellipse(x(24), mid + yOff, 12, 8, spec.modality === 'ct' ? 0.25 : 0.9, { soft: 2, angle: 0.5 });
      break;
    case 'cyst':
      c.ellipse(x(22), mid + (f.region === 'upper' ? -10 : 16), 5, 5, 0.15, { soft: 0.8 });
      break;
    case 'kidney stone':
      c.ellipse(x(22) + rng.range(-2, 2), mid + 16 + rng.range(-4, 4), 2, 2, 1, { soft: 0.5 });
      break;
  }
}

// ---- questions ---------------------------------------------------------------------------------------

interface QA {
  question: string;
  answer: string;
  closed: boolean;
}

const ORGAN_WORDS: Record<Organ, string[]> = {
  chest: ['chest', 'lungs', 'thorax'],
  head: ['head', 'brain', 'skull'],
  abdomen: ['abdomen', 'belly', 'abdominal cavity'],
};
const MODALITY_WORDS: Record<Modality, string[]> = {
  'x-ray': ['an x-ray', 'a radiograph', 'a plain film'],
  ct: ['a ct', 'a ct scan', 'a computed tomography image'],
  mri: ['an mri', 'an mr image', 'a magnetic resonance image'],
};

const art = (w: string) => (/^[aeiou]/.test(w) ? `an ${w}` : `a ${w}`);
const plural = (t: FindingType) => (t.endsWith('s') ? t : t === 'kidney stone' ? 'kidney stones' : `${t}s`);

function closedQuestions(spec: ImageSpec, rng: Rng): QA[] {
  const out: QA[] = [];
  const yes = (b: boolean) => (b ? 'yes' : 'no');
  // Presence: half the time ask about a finding present, else about one absent (balances yes/no).
  const present = spec.findings;
  const candidates = FINDINGS_BY_ORGAN[spec.organ];
  const askPresent = present.length > 0 && rng.chance(0.5);
  const t = askPresent ? rng.pick(present).type : rng.pick(candidates);
  const isThere = present.some((f) => f.type === t);
  const where = rng.pick(ORGAN_WORDS[spec.organ]);
  out.push({
    question: rng.pick([
      `is there ${art(t)}?`,
      `is there evidence of ${t}?`,
      `are there any ${plural(t)}?`,
      `is/are there ${t} in the patient's ${where}?`,
      `is ${art(t)} present?`,
      `do you see ${art(t)} in this image?`,
    ]),
    answer: yes(isThere),
    closed: true,
  });
  if (present.length > 0) {
    const f = rng.pick(present);
    const side: Side = rng.pick(['left', 'right']);
    out.push({
      question: rng.pick([
        `is the ${f.type} on the ${side} side?`,
        `is the ${f.type} in the ${side} ${where}?`,
        `is the abnormality on the ${side}?`,
      ]),
      answer: yes(f.side === side),
      closed: true,
    });
    if (f.type === 'nodule') {
      out.push({
        question: rng.pick(['are there multiple nodules?', 'is there more than one nodule?']),
        answer: yes(f.count > 1),
        closed: true,
      });
    }
  }
  const m: Modality = rng.chance(0.5) ? spec.modality : rng.pick(['x-ray', 'ct', 'mri'] as Modality[]);
  out.push({
    question: rng.pick([
      `is this ${rng.pick(MODALITY_WORDS[m])}?`,
      `was this image taken with ${m}?`,
      `is this image ${rng.pick(MODALITY_WORDS[m])}?`,
    ]),
    answer: yes(m === spec.modality),
    closed: true,
  });
  const o: Organ = rng.chance(0.5) ? spec.organ : rng.pick(['chest', 'head', 'abdomen'] as Organ[]);
  out.push({
    question: rng.pick([
      `is this an image of the ${rng.pick(ORGAN_WORDS[o])}?`,
      `is the ${rng.pick(ORGAN_WORDS[o])} shown?`,
      `does this image show the ${o}?`,
    ]),
    answer: yes(o === spec.organ),
    closed: true,
  });
  const normalQ = rng.pick([
    'is this image normal?',
    'is there anything abnormal?',
    'are there any abnormal findings?',
    'is this a normal study?',
  ]);
  out.push({
    question: normalQ,
    answer: yes(normalQ.includes('abnormal') ? present.length > 0 : present.length === 0),
    closed: true,
  });
  const plane = PLANE[spec.modality];
  const askPlane = rng.pick(['axial', 'pa', 'coronal']);
  out.push({
    question: rng.pick([`is this ${art(askPlane)} image?`, `was this taken in the ${askPlane} plane?`]),
    answer: yes(askPlane === plane),
    closed: true,
  });
  return out;
}

function openQuestions(spec: ImageSpec, rng: Rng): QA[] {
  const out: QA[] = [
    {
      question: rng.pick([
        'what organ is shown?',
        'what part of the body is this?',
        'which organ system is imaged?',
        'what is the organ in this image?',
      ]),
      answer: ORGAN_ANSWER[spec.organ],
      closed: false,
    },
    {
      question: rng.pick([
        'what is the modality?',
        'what imaging modality was used?',
        'how was this image taken?',
        'what kind of image is this?',
      ]),
      answer: spec.modality,
      closed: false,
    },
    {
      question: rng.pick([
        'in what plane is this image taken?',
        'what plane is this?',
        'which plane is shown?',
      ]),
      answer: PLANE[spec.modality],
      closed: false,
    },
  ];
  if (spec.findings.length > 0) {
    const f = rng.pick(spec.findings);
    out.push({
      question: rng.pick([
        'what is the abnormality?',
        'what is abnormal in this image?',
        'what is the main finding?',
        'what lesion is seen?',
      ]),
      answer: f.type,
      closed: false,
    });
    out.push({
      question: rng.pick([
        `which side is the ${f.type} on?`,
        `on which side is the abnormality?`,
        `is the ${f.type} on the left or right?`,
      ]),
      answer: f.side,
      closed: false,
    });
    if (f.type !== 'cardiomegaly') {
      out.push({
        question: rng.pick([
          `where is the ${f.type} located?`,
          `where is the lesion?`,
          `where is the abnormality?`,
        ]),
        answer: locationAnswer(spec.organ, f),
        closed: false,
      });
    }
    if (f.type === 'nodule')
      out.push({
        question: rng.pick(['how many nodules are there?', 'how many nodules are seen?']),
        answer: String(f.count),
        closed: false,
      });
  }
  return out;
}

// ---- the generator -----------------------------------------------------------------------------------

export function resolveKnobs(options: SynthRadOptions): SynthKnobs {
  const preset = SYNTHRAD_PRESETS[options.preset];
  if (!preset)
    throw new Error(
      `unknown SynthRad preset '${options.preset}' (known: ${Object.keys(SYNTHRAD_PRESETS).join(', ')})`,
    );
  const knobs: SynthKnobs = { ...BASE_KNOBS, ...preset.knobs };
  for (const [key, value] of Object.entries(options)) {
    if (key === 'preset' || key === 'n' || key === 'seed' || value === undefined) continue;
    (knobs as unknown as Record<string, unknown>)[key] = value;
  }
  if (!(knobs.questionsPerImage >= 1)) throw new Error('questionsPerImage must be at least 1');
  return knobs;
}

function drawSpec(knobs: SynthKnobs, rng: Rng): ImageSpec {
  const organ = rng.weighted(knobs.organMix);
  const modality: Modality =
    organ === 'head'
      ? rng.chance(knobs.mriShare)
        ? 'mri'
        : 'ct'
      : rng.chance(knobs.ctShare)
        ? 'ct'
        : 'x-ray';
  const findings: Finding[] = [];
  if (rng.chance(knobs.prevalence)) {
    const count = rng.chance(0.25) ? 2 : 1;
    const types = rng.shuffle(FINDINGS_BY_ORGAN[organ].slice()).slice(0, count);
    for (const type of types) {
      findings.push({
        type,
        side: rng.pick(['left', 'right']),
        region: type === 'effusion' && organ === 'chest' ? 'lower' : rng.pick(['upper', 'lower']),
        count: type === 'nodule' ? 1 + rng.int(3) : 1,
      });
    }
  }
  return { organ, modality, findings };
}

/**
 * Generates `n` question records over ⌈n / questionsPerImage⌉ images at STORED_IMAGE_SIZE, with a
 * by-image train/val split. Same options → the same dataset, byte for byte.
 */
export function generateSynthRad(options: SynthRadOptions): VqaDataset {
  const knobs = resolveKnobs(options);
  if (!Number.isInteger(options.n) || options.n < 0) throw new Error('n must be a non-negative integer');
  const rng = new Rng(options.seed);
  const images = new Map<string, GrayImage>();
  const records: VqaRecord[] = [];
  const nImages = Math.ceil(options.n / knobs.questionsPerImage);
  for (let i = 0; i < nImages && records.length < options.n; i++) {
    const spec = drawSpec(knobs, rng);
    const key = `synthrad-${options.preset}-${options.seed}-${String(i).padStart(5, '0')}`;
    images.set(key, renderImage(spec, knobs, rng));
    const closed = rng.shuffle(closedQuestions(spec, rng));
    const open = rng.shuffle(openQuestions(spec, rng));
    const split = splitForImage(key, options.seed, knobs.validationFraction);
    for (let q = 0; q < knobs.questionsPerImage && records.length < options.n; q++) {
      const wantClosed = rng.chance(knobs.closedShare);
      const qa = (wantClosed ? (closed.shift() ?? open.shift()) : (open.shift() ?? closed.shift()))!;
      if (!qa) break;
      records.push({
        id: `${key}-q${q}`,
        imageKey: key,
        question: qa.question,
        answer: qa.answer,
        answerType: qa.closed ? 'closed' : 'open',
        organ: spec.organ.toUpperCase(),
        modality: spec.modality,
        split,
      });
    }
  }
  return { name: `synth:${options.preset}`, records, images };
}
