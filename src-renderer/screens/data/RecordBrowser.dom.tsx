import { useEffect, useRef, useState } from 'react';
import type { DataCounts, RecordQuery, RecordRow } from '../../../core/data/site-data-api.js';
import type { ImageDetail } from '../../../core/site-api/contract.js';
import { siteApi } from '../../api/site-api-client.dom.js';
import { Pager } from '../../components/Pager.dom.js';

const PAGE = 25;
/** Filter value standing for "not recorded" (a null organ or modality). */
const NONE = '\u0000none';

type Filters = {
  search: string;
  split: '' | 'train' | 'val';
  answerType: '' | 'closed' | 'open';
  organ: string;
  modality: string;
};
const NO_FILTERS: Filters = { search: '', split: '', answerType: '', organ: '', modality: '' };

function toQuery(filters: Filters, offset: number): RecordQuery {
  const query: RecordQuery = { offset, limit: PAGE };
  if (filters.search.trim()) query.search = filters.search.trim();
  if (filters.split) query.split = filters.split;
  if (filters.answerType) query.answerType = filters.answerType;
  if (filters.organ) query.organ = filters.organ === NONE ? null : filters.organ;
  if (filters.modality) query.modality = filters.modality === NONE ? null : filters.modality;
  return query;
}

function ImageDialog({ imageId, onClose }: { imageId: number; onClose: () => void }) {
  const dialog = useRef<HTMLDialogElement>(null);
  const [detail, setDetail] = useState<ImageDetail>();
  const [error, setError] = useState<string>();
  useEffect(() => {
    dialog.current?.showModal();
    siteApi.invoke('data.image', { imageId }).then(setDetail, (caught: Error) => setError(caught.message));
  }, [imageId]);
  return (
    <dialog
      ref={dialog}
      className="image-dialog"
      onClose={onClose}
      aria-labelledby="image-dialog-title"
      data-testid="image-detail"
    >
      <div className="card-head">
        <h2 id="image-dialog-title">
          Image {imageId}
          {detail?.questions[0] && (
            <span className="muted small">
              {' '}
              · {[detail.questions[0].organ, detail.questions[0].modality].filter(Boolean).join(' · ')} ·{' '}
              {detail.questions[0].split === 'val' ? 'validation' : 'training'}
            </span>
          )}
        </h2>
        <button type="button" className="secondary" onClick={() => dialog.current?.close()} autoFocus>
          Close
        </button>
      </div>
      {error && <p className="error">{error}</p>}
      {detail && (
        <div className="image-detail">
          <figure>
            <img
              src={detail.modelInput}
              alt={`Image ${imageId} as the model sees it`}
              data-testid="image-model-input"
            />
            <figcaption className="muted small">
              Exactly what the model sees: grayscale, letterboxed to a square.
            </figcaption>
          </figure>
          <div>
            <h3>
              {detail.questions.length} question{detail.questions.length === 1 ? '' : 's'} about this image
            </h3>
            <ul className="qa-list">
              {detail.questions.map((q) => (
                <li key={q.id}>
                  <div>{q.question}</div>
                  <div className="answer">
                    {q.answer} <span className="tag">{q.answerType}</span>{' '}
                    <span className="tag">{q.split}</span>
                  </div>
                </li>
              ))}
            </ul>
          </div>
        </div>
      )}
    </dialog>
  );
}

/** The stored questions with their image thumbnails, filtered, searched and paged. */
export function RecordBrowser({ counts, refresh }: { counts: DataCounts | undefined; refresh: number }) {
  const [filters, setFilters] = useState<Filters>(NO_FILTERS);
  const [applied, setApplied] = useState<Filters>(NO_FILTERS);
  const [offset, setOffset] = useState(0);
  const [page, setPage] = useState<{
    total: number;
    rows: RecordRow[];
    thumbnails: Record<string, string>;
  }>();
  const [error, setError] = useState<string>();
  const [openImage, setOpenImage] = useState<number>();

  useEffect(() => {
    let current = true;
    siteApi.invoke('data.records', toQuery(applied, offset)).then(
      (result) => {
        if (!current) return;
        setPage(result);
        setError(undefined);
      },
      (caught: Error) => current && setError(caught.message),
    );
    return () => {
      current = false;
    };
  }, [applied, offset, refresh]);

  const apply = (next: Filters) => {
    setFilters(next);
    setApplied(next);
    setOffset(0);
  };
  const select = <K extends keyof Filters>(key: K) => ({
    value: filters[key],
    onChange: (e: { target: { value: string } }) =>
      apply({ ...filters, [key]: e.target.value as Filters[K] }),
  });

  return (
    <section className="card" aria-labelledby="records-heading" data-testid="record-browser">
      <h2 id="records-heading">Browse records</h2>
      <form
        className="filters"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          apply(filters);
        }}
      >
        <input
          type="search"
          placeholder="Search questions and answers"
          aria-label="Search questions and answers"
          value={filters.search}
          onChange={(e) => setFilters({ ...filters, search: e.target.value })}
          onBlur={() => filters.search !== applied.search && apply(filters)}
          data-testid="records-search"
        />
        <select aria-label="Split" {...select('split')} data-testid="records-split">
          <option value="">Training and validation</option>
          <option value="train">Training only</option>
          <option value="val">Validation only</option>
        </select>
        <select aria-label="Answer type" {...select('answerType')} data-testid="records-answer-type">
          <option value="">Closed and open</option>
          <option value="closed">Closed</option>
          <option value="open">Open</option>
        </select>
        <select aria-label="Organ" {...select('organ')} data-testid="records-organ">
          <option value="">Every organ</option>
          {counts?.byOrgan.map(({ organ }) => (
            <option key={organ ?? NONE} value={organ ?? NONE}>
              {organ ?? 'organ not recorded'}
            </option>
          ))}
        </select>
        <select aria-label="Modality" {...select('modality')} data-testid="records-modality">
          <option value="">Every modality</option>
          {counts?.byModality.map(({ modality }) => (
            <option key={modality ?? NONE} value={modality ?? NONE}>
              {modality ?? 'modality not recorded'}
            </option>
          ))}
        </select>
        <button type="submit" className="secondary">
          Search
        </button>
      </form>
      {error && <p className="error">{error}</p>}
      {page && page.rows.length === 0 ? (
        <p className="muted" data-testid="records-empty">
          {page.total === 0 && applied === NO_FILTERS
            ? 'No records yet.'
            : 'No record matches these filters.'}
        </p>
      ) : (
        page && (
          <table className="table records" aria-describedby="records-heading">
            <thead>
              <tr>
                <th scope="col">Image</th>
                <th scope="col">Question</th>
                <th scope="col">Answer</th>
                <th scope="col">Type</th>
                <th scope="col">Split</th>
                <th scope="col">Organ</th>
                <th scope="col">Modality</th>
              </tr>
            </thead>
            <tbody>
              {page.rows.map((row) => {
                const thumbnail = page.thumbnails[String(row.imageId)];
                return (
                  <tr key={row.id} data-testid="record-row">
                    <td className="thumb-cell">
                      <button
                        type="button"
                        className="thumb-button"
                        onClick={() => setOpenImage(row.imageId)}
                        aria-label={`Open image ${row.imageId}`}
                      >
                        {thumbnail ? (
                          <img src={thumbnail} alt="" className="thumb" data-testid="record-thumbnail" />
                        ) : (
                          <span className="thumb thumb-missing" />
                        )}
                      </button>
                    </td>
                    <td>{row.question}</td>
                    <td className="answer">{row.answer}</td>
                    <td>
                      <span className={`tag tag-${row.answerType}`}>{row.answerType}</span>
                    </td>
                    <td>{row.split === 'val' ? 'validation' : 'training'}</td>
                    <td>{row.organ ?? <span className="muted">–</span>}</td>
                    <td>{row.modality ?? <span className="muted">–</span>}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        )
      )}
      {page && page.total > 0 && (
        <Pager
          offset={offset}
          limit={PAGE}
          shown={page.rows.length}
          total={page.total}
          onChange={setOffset}
          testId="records-pager"
        />
      )}
      {openImage !== undefined && <ImageDialog imageId={openImage} onClose={() => setOpenImage(undefined)} />}
    </section>
  );
}
