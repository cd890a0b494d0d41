/** A fingerprint, set in monospace and split into groups, so two people can read it to each other. */
export function Fingerprint({ value, testId }: { value: string; testId?: string }) {
  return (
    <code
      className="fingerprint"
      data-testid={testId}
      title="Compare this with the other party over a channel you trust"
    >
      {value}
    </code>
  );
}
