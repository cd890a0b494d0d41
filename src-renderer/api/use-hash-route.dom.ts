import { useEffect, useState } from 'react';

/**
 * The screen shown, kept in the address fragment (`#/data`) so a reload stays where the operator was.
 * The launch token also arrives in the fragment; the API client takes it out before the first render.
 */
export function useHashRoute<R extends string>(routes: readonly R[], fallback: R): [R, (route: R) => void] {
  const read = (): R => {
    const name = window.location.hash.replace(/^#\/?/, '');
    return (routes as readonly string[]).includes(name) ? (name as R) : fallback;
  };
  const [route, setRoute] = useState<R>(read);
  useEffect(() => {
    const onChange = () => setRoute(read());
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
    // `read` only depends on the fixed route list.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);
  const go = (next: R) => {
    if (next !== route) window.location.hash = `/${next}`;
    setRoute(next);
  };
  return [route, go];
}
