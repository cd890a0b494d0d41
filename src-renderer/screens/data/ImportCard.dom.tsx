import { useEffect, useState, type FormEvent, type ReactNode } from 'react';
import type { ImportFormat, ImportOptions, ImportSummary } from '../../../core/data/site-data-api.js';
import type { ImportJob } from '../../../core/site-api/contract.js';
import { siteApi } from '../../api/site-api-client.dom.js';
import { useSiteEvents } from '../../api/use-site-events.dom.js';
import { ProgressBar } from '../../components/ProgressBar.dom.js';
import { formatCount, formatDuration } from '../../format.dom.js';

const FORMATS: Record<ImportFormat, { label: string; hint: string; placeholder: string; table: boolean }> = {
  'vqa-rad': {
    label: 'VQA-RAD folder',
    hint: 'A VQA-RAD folder (the MEVF layout): questions from trainset.json only (testset.json is not read), images from images/.',
    placeholder: '/data/vqa-rad',
    table: false,
  },
  slake: {
    label: 'SLAKE folder or JSON',
    hint: 'A SLAKE folder (train.json, imgs/) or one SLAKE JSON file. Only English questions are kept.',
    placeholder: '/data/slake',
    table: false,
  },
  csv: {
    label: 'CSV table',
    hint: 'A CSV file with an image path, a question and an answer per row. Image paths are relative to the file’s folder unless you name another.',
    placeholder: '/data/questions.csv',
    table: true,
  },
  jsonl: {
    label: 'JSONL table',
    hint: 'One JSON object per line with an image path, a question and an answer.',
    placeholder: '/data/questions.jsonl',
    table: true,
  },
  dicom: {
    label: 'DICOM folder',
    hint: 'A folder of DICOM files plus a question table joined by SOPInstanceUID or file name. Patient names, IDs, dates and other identifiers are dropped, never stored.',
    placeholder: '/data/dicom-study',
    table: false,
  },
};

const PHASES: Record<string, string> = {
  read: 'Reading the question files',
  decode: 'Decoding and normalising images',
  write: 'Writing to this site’s database',
  features: 'Computing image features (kept on this computer)',
  done: 'Finishing',
};

const newJobId = () =>
  `ui-${typeof crypto.randomUUID === 'function' ? crypto.randomUUID() : Math.random().toString(36).slice(2)}`;

type Outcome = { summary: ImportSummary } | { error: string };

function Field({ label, hint, children }: { label: string; hint?: string; children: ReactNode }) {
  return (
    <label className="field">
      <span className="field-label">{label}</span>
      {children}
      {hint && <span className="field-hint">{hint}</span>}
    </label>
  );
}

/** The share of images held out for validation (the split is by image). */
function ValidationShareField({
  value,
  onChange,
  testId,
}: {
  value: string;
  onChange: (value: string) => void;
  testId: string;
}) {
  return (
    <Field label="Validation share" hint="Held out by image, for measuring accuracy.">
      <input
        type="number"
        min={0}
        max={0.9}
        step={0.05}
        value={value}
        onChange={(e) => onChange(e.target.value)}
        data-testid={testId}
      />
    </Field>
  );
}

/** Split options shared by both forms (validation share and seed of the by-image split). */
function SplitFields({
  fraction,
  seed,
  onFraction,
  onSeed,
  prefix,
}: {
  fraction: string;
  seed: string;
  onFraction: (value: string) => void;
  onSeed: (value: string) => void;
  prefix: string;
}) {
  return (
    <>
      <ValidationShareField value={fraction} onChange={onFraction} testId={`${prefix}-validation`} />
      <Field label="Split seed" hint="The same seed gives the same split.">
        <input
          type="number"
          min={0}
          step={1}
          value={seed}
          onChange={(e) => onSeed(e.target.value)}
          data-testid={`${prefix}-seed`}
        />
      </Field>
    </>
  );
}

function ImportProgressView({ job, onCancel }: { job: ImportJob; onCancel?: () => void }) {
  const progress = job.progress;
  const phase =
    job.state === 'queued' ? 'Waiting for the import before it' : PHASES[progress?.phase ?? 'read'];
  const counter =
    progress && progress.total > 1
      ? ` — ${formatCount(progress.done)} of ${formatCount(progress.total)}`
      : '';
  return (
    <div className="import-progress" data-testid="import-progress">
      <div className="row-between">
        <div aria-live="polite" data-testid="import-phase" data-phase={progress?.phase ?? job.state}>
          <strong>{phase}</strong>
          <span className="muted">{counter}</span>
        </div>
        {onCancel && (
          <button type="button" className="secondary" onClick={onCancel} data-testid="import-cancel">
            Cancel
          </button>
        )}
      </div>
      <ProgressBar
        done={progress?.done ?? 0}
        total={job.state === 'queued' ? 0 : (progress?.total ?? 0)}
        label="Import progress"
        testId="import-progress-bar"
      />
      <p className="muted small">
        {job.kind === 'synth' ? 'Generating' : 'Importing'} {job.source}. Nothing is stored until every item
        is read: cancelling leaves the database as it was.
      </p>
    </div>
  );
}

function SummaryView({ summary }: { summary: ImportSummary }) {
  const { images, questions } = summary;
  return (
    <div
      className={`import-summary ${summary.nothingNew ? 'notice' : 'success'}`}
      data-testid="import-summary"
      data-nothing-new={summary.nothingNew}
      role="status"
    >
      <p className="summary-message" data-testid="import-message">
        <strong>{summary.nothingNew ? 'Nothing new. ' : 'Import complete. '}</strong>
        {summary.message}
        <span className="muted"> ({formatDuration(summary.durationMs)})</span>
      </p>
      <table className="table compact summary-table">
        <thead>
          <tr>
            <th scope="col" />
            <th scope="col" className="num">
              Added
            </th>
            <th scope="col" className="num">
              Already stored
            </th>
            <th scope="col" className="num">
              Failed
            </th>
            <th scope="col" className="num">
              Skipped
            </th>
          </tr>
        </thead>
        <tbody>
          <tr data-testid="summary-images">
            <th scope="row">Images</th>
            <td className="num">{formatCount(images.added)}</td>
            <td className="num">{formatCount(images.existing)}</td>
            <td className="num">{formatCount(images.failed)}</td>
            <td className="num">–</td>
          </tr>
          <tr data-testid="summary-questions">
            <th scope="row">Questions</th>
            <td className="num">{formatCount(questions.added)}</td>
            <td className="num">{formatCount(questions.existing)}</td>
            <td className="num">{formatCount(questions.failed)}</td>
            <td className="num">{formatCount(questions.skipped)}</td>
          </tr>
        </tbody>
      </table>
      {questions.added > 0 && (
        <p className="muted small">
          New questions split by image: {formatCount(summary.split.train)} for training,{' '}
          {formatCount(summary.split.val)} for validation (seed {summary.split.seed}).
        </p>
      )}
      {Object.keys(summary.skipped).length > 0 && (
        <p className="muted small">
          Left out as asked (not errors):{' '}
          {Object.entries(summary.skipped)
            .map(([why, n]) => `${formatCount(n)} ${why}`)
            .join(', ')}
        </p>
      )}
      {summary.droppedTags && summary.droppedTags.length > 0 && (
        <details>
          <summary>
            {summary.droppedTags.length} identifying DICOM tag{summary.droppedTags.length === 1 ? '' : 's'}{' '}
            dropped (never stored)
          </summary>
          <ul className="plain small">
            {summary.droppedTags.map((tag) => (
              <li key={tag.tag}>
                <code>{tag.tag}</code> {tag.name} — {formatCount(tag.files)} file{tag.files === 1 ? '' : 's'}
              </li>
            ))}
          </ul>
        </details>
      )}
      {summary.notes.map((note) => (
        <p key={note} className="muted small">
          {note}
        </p>
      ))}
      {summary.errorCount > 0 && <ItemErrors errors={summary.errors} count={summary.errorCount} />}
    </div>
  );
}

export function ItemErrors({
  errors,
  count,
}: {
  errors: { item: string; message: string; path?: string }[];
  count: number;
}) {
  return (
    <div className="item-errors" data-testid="import-errors">
      <h3>
        {formatCount(count)} item{count === 1 ? '' : 's'} could not be imported
        {errors.length < count ? ` (first ${formatCount(errors.length)} shown)` : ''}
      </h3>
      <ul>
        {errors.map((error, index) => (
          <li key={`${error.item}-${index}`}>
            <strong>{error.item}</strong>: {error.message}
            {error.path && <div className="muted small path">{error.path}</div>}
          </li>
        ))}
      </ul>
    </div>
  );
}

/** Bring records in: a dataset from this machine, or generated SynthRad demo data. */
export function ImportCard() {
  const [mode, setMode] = useState<'file' | 'synth'>('file');
  const [format, setFormat] = useState<ImportFormat>('vqa-rad');
  const [path, setPath] = useState('');
  const [organs, setOrgans] = useState('');
  const [fraction, setFraction] = useState('0.2');
  const [seed, setSeed] = useState('42');
  const [strict, setStrict] = useState(false);
  const [imagesDir, setImagesDir] = useState('');
  const [questionsTable, setQuestionsTable] = useState('');
  const [columns, setColumns] = useState({ image: '', question: '', answer: '' });
  const [presets, setPresets] = useState<{ name: string; description: string }[]>([]);
  const [preset, setPreset] = useState('general');
  const [count, setCount] = useState('200');
  const [synthSeed, setSynthSeed] = useState('1');
  const [synthFraction, setSynthFraction] = useState('0.2');

  const [jobId, setJobId] = useState<string>();
  const [job, setJob] = useState<ImportJob>();
  const [outcome, setOutcome] = useState<Outcome>();
  const [cancelling, setCancelling] = useState(false);

  useEffect(() => {
    siteApi.invoke('data.synthPresets', undefined).then(setPresets, () => undefined);
    // A window opened while an import runs follows it too.
    siteApi.invoke('data.jobs', undefined).then(
      (jobs) => setJob((current) => current ?? jobs[0]),
      () => undefined,
    );
  }, []);

  useSiteEvents((event) => {
    if (event.type !== 'import') return;
    const update = event.job;
    const running = update.state === 'queued' || update.state === 'running';
    if (update.jobId === jobId || (!jobId && (running || update.jobId === job?.jobId)))
      setJob(running ? update : undefined);
  });

  const busy = jobId !== undefined;
  const number = (text: string) => (text.trim() === '' ? undefined : Number(text));

  const start = async (run: (id: string) => Promise<ImportSummary>) => {
    const id = newJobId();
    setJobId(id);
    setOutcome(undefined);
    setCancelling(false);
    try {
      setOutcome({ summary: await run(id) });
    } catch (caught) {
      setOutcome({ error: (caught as Error).message });
    } finally {
      setJobId(undefined);
      setJob(undefined);
    }
  };

  const submitImport = (event: FormEvent) => {
    event.preventDefault();
    const options: ImportOptions = {};
    const validationFraction = number(fraction);
    const splitSeed = number(seed);
    if (validationFraction !== undefined) options.validationFraction = validationFraction;
    if (splitSeed !== undefined) options.seed = splitSeed;
    const organList = organs
      .split(',')
      .map((organ) => organ.trim())
      .filter(Boolean);
    if (organList.length > 0) options.organs = organList;
    if (strict) options.strict = true;
    if (FORMATS[format].table && imagesDir.trim()) options.imagesDir = imagesDir.trim();
    if (format === 'dicom' && questionsTable.trim()) options.questionsTable = questionsTable.trim();
    if (FORMATS[format].table || format === 'dicom') {
      const mapping = Object.fromEntries(
        Object.entries(columns)
          .map(([key, value]) => [key, value.trim()])
          .filter(([, value]) => value !== ''),
      );
      if (Object.keys(mapping).length > 0) options.columns = mapping;
    }
    void start((id) => siteApi.invoke('data.import', { jobId: id, format, path: path.trim(), options }));
  };

  const submitSynth = (event: FormEvent) => {
    event.preventDefault();
    void start((id) =>
      siteApi.invoke('data.synth', {
        jobId: id,
        preset,
        n: Number(count),
        seed: number(synthSeed),
        validationFraction: number(synthFraction),
      }),
    );
  };

  const cancel = () => {
    if (!jobId) return;
    setCancelling(true);
    void siteApi.invoke('data.cancelImport', { jobId }).catch(() => undefined);
  };

  const description = presets.find((p) => p.name === preset)?.description;
  const shownJob = job;

  return (
    <section className="card" aria-labelledby="import-heading" data-testid="import-card">
      <h2 id="import-heading">Add records</h2>
      <div className="segmented" role="tablist" aria-label="Source of records">
        <button
          type="button"
          role="tab"
          aria-selected={mode === 'file'}
          className={mode === 'file' ? 'active' : ''}
          onClick={() => setMode('file')}
          data-testid="import-mode-file"
        >
          Import a dataset
        </button>
        <button
          type="button"
          role="tab"
          aria-selected={mode === 'synth'}
          className={mode === 'synth' ? 'active' : ''}
          onClick={() => setMode('synth')}
          data-testid="import-mode-synth"
        >
          Generate SynthRad demo data
        </button>
      </div>

      {mode === 'file' ? (
        <form onSubmit={submitImport} className="form" role="tabpanel" aria-label="Import a dataset">
          <div className="form-grid">
            <Field label="Format">
              <select
                value={format}
                onChange={(e) => setFormat(e.target.value as ImportFormat)}
                data-testid="import-format"
              >
                {(Object.keys(FORMATS) as ImportFormat[]).map((key) => (
                  <option key={key} value={key}>
                    {FORMATS[key].label}
                  </option>
                ))}
              </select>
            </Field>
            <Field label="Path on this computer" hint={FORMATS[format].hint}>
              <input
                type="text"
                value={path}
                onChange={(e) => setPath(e.target.value)}
                placeholder={FORMATS[format].placeholder}
                spellCheck={false}
                required
                data-testid="import-path"
              />
            </Field>
          </div>
          <details className="options">
            <summary>Options</summary>
            <div className="form-grid three">
              <Field label="Only these organs" hint="Comma-separated, e.g. chest, head. Empty keeps all.">
                <input
                  type="text"
                  value={organs}
                  onChange={(e) => setOrgans(e.target.value)}
                  data-testid="import-organs"
                />
              </Field>
              <SplitFields
                fraction={fraction}
                seed={seed}
                onFraction={setFraction}
                onSeed={setSeed}
                prefix="import"
              />
              {FORMATS[format].table && (
                <Field label="Images folder" hint="Default: the table’s folder.">
                  <input
                    type="text"
                    value={imagesDir}
                    onChange={(e) => setImagesDir(e.target.value)}
                    spellCheck={false}
                  />
                </Field>
              )}
              {format === 'dicom' && (
                <Field label="Question table (CSV or JSONL)">
                  <input
                    type="text"
                    value={questionsTable}
                    onChange={(e) => setQuestionsTable(e.target.value)}
                    spellCheck={false}
                  />
                </Field>
              )}
              {(FORMATS[format].table || format === 'dicom') &&
                (['image', 'question', 'answer'] as const).map((key) => (
                  <Field
                    key={key}
                    label={`${key[0]!.toUpperCase()}${key.slice(1)} column`}
                    hint="Default: found by name."
                  >
                    <input
                      type="text"
                      value={columns[key]}
                      onChange={(e) => setColumns({ ...columns, [key]: e.target.value })}
                      spellCheck={false}
                    />
                  </Field>
                ))}
            </div>
            <label className="checkbox">
              <input type="checkbox" checked={strict} onChange={(e) => setStrict(e.target.checked)} /> Strict:
              any bad item fails the whole import
            </label>
          </details>
          <button type="submit" disabled={busy || path.trim() === ''} data-testid="import-submit">
            {busy ? 'Importing…' : 'Import'}
          </button>
        </form>
      ) : (
        <form
          onSubmit={submitSynth}
          className="form"
          role="tabpanel"
          aria-label="Generate SynthRad demo data"
        >
          <p className="muted small">
            SynthRad-VQA draws synthetic radiographs with known findings and writes questions about them. Use
            it to try Cohort without patient data; each preset resembles a different kind of hospital.
          </p>
          <div className="form-grid fixed">
            <Field label="Preset">
              <select value={preset} onChange={(e) => setPreset(e.target.value)} data-testid="synth-preset">
                {presets.map((p) => (
                  <option key={p.name} value={p.name}>
                    {p.name}
                  </option>
                ))}
              </select>
            </Field>
            <Field label="Questions">
              <input
                type="number"
                min={1}
                max={100000}
                value={count}
                onChange={(e) => setCount(e.target.value)}
                required
                data-testid="synth-count"
              />
            </Field>
          </div>
          {description && (
            <p className="field-hint" data-testid="synth-description">
              {description[0]!.toUpperCase() + description.slice(1)}.
            </p>
          )}
          <details className="options">
            <summary>Options</summary>
            <div className="form-grid three">
              <Field label="Seed" hint="The same seed gives the same records and split.">
                <input
                  type="number"
                  min={0}
                  value={synthSeed}
                  onChange={(e) => setSynthSeed(e.target.value)}
                  data-testid="synth-seed"
                />
              </Field>
              <ValidationShareField
                value={synthFraction}
                onChange={setSynthFraction}
                testId="synth-validation"
              />
            </div>
          </details>
          <button type="submit" disabled={busy || !(Number(count) >= 1)} data-testid="synth-submit">
            {busy ? 'Generating…' : 'Generate'}
          </button>
        </form>
      )}

      {shownJob && <ImportProgressView job={shownJob} onCancel={jobId && !cancelling ? cancel : undefined} />}
      {busy && !shownJob && (
        <div className="import-progress" data-testid="import-progress">
          <div aria-live="polite">
            <strong>Starting…</strong>
          </div>
          <ProgressBar done={0} total={0} label="Import progress" />
        </div>
      )}
      {outcome && 'error' in outcome && (
        <p className="error" role="alert" data-testid="import-error">
          {cancelling ? 'Cancelled: ' : 'The import stored nothing: '}
          {outcome.error}
        </p>
      )}
      {outcome && 'summary' in outcome && <SummaryView summary={outcome.summary} />}
    </section>
  );
}
