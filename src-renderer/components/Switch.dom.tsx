import { useId, type ReactNode } from 'react';

/** An on/off control that says what it does; `role="switch"` so assistive tech reads it as one. */
export function Switch({
  checked,
  onChange,
  label,
  description,
  disabled,
  testId,
}: {
  checked: boolean;
  onChange: (checked: boolean) => void;
  label: string;
  description?: ReactNode;
  disabled?: boolean;
  testId?: string;
}) {
  const id = useId();
  return (
    <div className="switch-row">
      <button
        type="button"
        role="switch"
        id={id}
        aria-checked={checked}
        aria-describedby={description ? `${id}-description` : undefined}
        className={`switch${checked ? ' switch-on' : ''}`}
        onClick={() => onChange(!checked)}
        disabled={disabled}
        data-testid={testId}
      >
        <span className="switch-knob" aria-hidden="true" />
      </button>
      <div>
        <label htmlFor={id} className="switch-label">
          {label}
        </label>
        {description && (
          <div id={`${id}-description`} className="muted small">
            {description}
          </div>
        )}
      </div>
    </div>
  );
}
