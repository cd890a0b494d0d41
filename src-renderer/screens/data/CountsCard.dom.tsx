import type { DataCounts } from '../../../core/data/site-data-api.js';
import { StatTile } from '../../components/StatTile.dom.js';
import { formatCount } from '../../format.dom.js';

function Breakdown({
  title,
  rows,
  testId,
}: {
  title: string;
  rows: { name: string | null; images: number; questions: number }[];
  testId: string;
}) {
  const max = Math.max(1, ...rows.map((row) => row.questions));
  return (
    <div className="breakdown" data-testid={testId}>
      <h3>{title}</h3>
      {rows.length === 0 ? (
        <p className="muted small">–</p>
      ) : (
        <table className="table compact">
          <thead>
            <tr>
              <th scope="col">{title.replace(/^By /, '')}</th>
              <th scope="col" className="num">
                Images
              </th>
              <th scope="col" className="num">
                Questions
              </th>
              <th scope="col" aria-hidden="true" className="bar-cell" />
            </tr>
          </thead>
          <tbody>
            {rows.map((row) => (
              <tr key={row.name ?? '∅'} data-name={row.name ?? ''}>
                <td>{row.name ?? <span className="muted">not recorded</span>}</td>
                <td className="num">{formatCount(row.images)}</td>
                <td className="num">{formatCount(row.questions)}</td>
                <td className="bar-cell" aria-hidden="true">
                  <span className="bar" style={{ width: `${(row.questions / max) * 100}%` }} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

/** What this site holds: totals, the train/validation split, answer types, organs and modalities. */
export function CountsCard({ counts }: { counts: DataCounts | undefined }) {
  return (
    <section className="card" aria-labelledby="counts-heading" data-testid="data-counts">
      <div className="card-head">
        <h2 id="counts-heading">Records on this site</h2>
        {counts && (
          <span className="muted small">
            from {formatCount(counts.imports)} import{counts.imports === 1 ? '' : 's'}
          </span>
        )}
      </div>
      {!counts ? (
        <p className="muted">Loading…</p>
      ) : (
        <>
          <div className="stats">
            <StatTile value={counts.images} label="images" testId="count-images" />
            <StatTile value={counts.questions} label="questions" testId="count-questions" />
            <StatTile value={counts.questionsBySplit.train} label="for training" testId="count-train" />
            <StatTile value={counts.questionsBySplit.val} label="for validation" testId="count-val" />
            <StatTile
              value={counts.questionsByAnswerType.closed}
              label="closed (yes/no…)"
              testId="count-closed"
            />
            <StatTile value={counts.questionsByAnswerType.open} label="open" testId="count-open" />
          </div>
          {counts.questions === 0 ? (
            <p className="muted" data-testid="data-empty">
              No records yet. Import a dataset below, or generate SynthRad demo data to try Cohort out.
            </p>
          ) : (
            <div className="breakdowns">
              <Breakdown
                title="By organ"
                testId="counts-by-organ"
                rows={counts.byOrgan.map(({ organ, ...rest }) => ({ name: organ, ...rest }))}
              />
              <Breakdown
                title="By modality"
                testId="counts-by-modality"
                rows={counts.byModality.map(({ modality, ...rest }) => ({ name: modality, ...rest }))}
              />
            </div>
          )}
        </>
      )}
    </section>
  );
}
