// Data loading for components: one request in flight per use (a new one
// aborts the old), the last good data kept while reloading, errors as values.
// Failures that mean "the server is unreachable" also go to the error banner.

import { useEffect, useRef, useState } from "preact/hooks";
import { ApiError, describeError, isAbort } from "../api/http";
import { clearError, reportError } from "./errors";

export interface Load<T> {
  data: T | undefined;
  error: string | null;
  /** The failure itself (status, errorType) when there is one. */
  failure: unknown;
  loading: boolean;
}

export interface LoadOptions {
  /** Names the load in the error banner ("Could not load services"). */
  label: string;
  /** Report every failure to the banner, not only an unreachable server. */
  banner?: boolean;
  /** Skip loading (e.g. no query yet); keeps the previous state. */
  enabled?: boolean;
  /** Drop the previous data when the inputs change (not on refresh). */
  resetOn?: string;
}

let seq = 0;

export function useLoad<T>(fn: (signal: AbortSignal) => Promise<T>, deps: unknown[], opts: LoadOptions): Load<T> {
  const [state, setState] = useState<Load<T>>({ data: undefined, error: null, failure: null, loading: opts.enabled !== false });
  const key = useRef(`load-${++seq}`);
  const reset = useRef(opts.resetOn);

  useEffect(() => {
    if (opts.enabled === false) {
      setState((s) => ({ ...s, loading: false }));
      return;
    }
    const ctl = new AbortController();
    const drop = reset.current !== opts.resetOn;
    reset.current = opts.resetOn;
    setState((s) => ({ data: drop ? undefined : s.data, error: drop ? null : s.error, failure: drop ? null : s.failure, loading: true }));
    fn(ctl.signal).then(
      (data) => {
        if (ctl.signal.aborted) return;
        clearError(key.current);
        setState({ data, error: null, failure: null, loading: false });
      },
      (e: unknown) => {
        if (isAbort(e) || ctl.signal.aborted) return;
        const message = describeError(e);
        if (opts.banner || (e instanceof ApiError && e.isUnavailable)) {
          reportError(key.current, opts.label, message);
        } else {
          clearError(key.current);
        }
        setState((s) => ({ data: s.data, error: message, failure: e, loading: false }));
      },
    );
    return () => ctl.abort();
  }, [...deps, opts.enabled, opts.resetOn]);

  useEffect(() => () => clearError(key.current), []);
  return state;
}
