// Silences: the list (active, pending, expired) with what each mutes, and the
// editor that creates one (from an alert's labels, prefilled) or edits one,
// as Alertmanager's API v2 keeps them.

import { useState } from "preact/hooks";
import { expireSilence, matches, saveSilence, type Matcher, type NotifierAlert, type Silence } from "../../api/alerts";
import { describeError } from "../../api/http";
import { Empty, ErrorState } from "../../components/States";
import { plural } from "../../lib/format";
import { refreshNow } from "../../lib/refresh";
import { formatDuration, formatUtc, parseDuration } from "../../lib/time";
import { Ago } from "./shared";

const AUTHOR_KEY = "osprey.silenceAuthor";

const OPS: [string, boolean, boolean][] = [
  ["=", false, true],
  ["!=", false, false],
  ["=~", true, true],
  ["!~", true, false],
];

function opOf(m: Matcher): string {
  return OPS.find(([, re, eq]) => re === m.isRegex && eq === m.isEqual)?.[0] ?? "=";
}

export function matcherText(m: Matcher): string {
  return `${m.name}${opOf(m)}${JSON.stringify(m.value)}`;
}

/** The alerts a silence's matchers select. */
export function muted(ms: Matcher[], alerts: NotifierAlert[]): NotifierAlert[] {
  return ms.length === 0 ? [] : alerts.filter((a) => ms.every((m) => matches(m, a.labels)));
}

/** What the editor starts from: a new silence (matchers given) or one to edit. */
export interface Draft {
  id: string | null;
  matchers: Matcher[];
  startsAt: number;
  endsAt: number;
  createdBy: string;
  comment: string;
}

export function newDraft(matchers: Matcher[], now: number): Draft {
  let author = "";
  try {
    author = window.localStorage.getItem(AUTHOR_KEY) ?? "";
  } catch {
    // Storage unavailable.
  }
  return { id: null, matchers, startsAt: now, endsAt: now + 2 * 3_600_000, createdBy: author, comment: "" };
}

export function SilenceEditor({ draft, alerts, onClose }: { draft: Draft; alerts: NotifierAlert[]; onClose: () => void }) {
  const [d, setD] = useState<Draft>(draft);
  const [duration, setDuration] = useState(formatDuration(draft.endsAt - draft.startsAt));
  const [error, setError] = useState<string | null>(null);
  const [saving, setSaving] = useState(false);
  const set = (patch: Partial<Draft>) => setD((x) => ({ ...x, ...patch }));
  const setMatcher = (i: number, patch: Partial<Matcher>) => set({ matchers: d.matchers.map((m, j) => (j === i ? { ...m, ...patch } : m)) });
  const hits = muted(d.matchers, alerts);
  const save = async () => {
    const ms = parseDuration(duration.trim());
    if (ms === null || ms <= 0) {
      setError(`"${duration}" is not a duration (e.g. 2h, 30m, 1d)`);
      return;
    }
    setSaving(true);
    setError(null);
    try {
      // An active silence keeps its start (a new start would end it and make another).
      const startsAt = d.id !== null ? d.startsAt : Math.max(d.startsAt, Date.now());
      await saveSilence({ ...d, startsAt, endsAt: startsAt + ms });
      try {
        window.localStorage.setItem(AUTHOR_KEY, d.createdBy);
      } catch {
        // Storage unavailable.
      }
      onClose();
      refreshNow();
    } catch (e) {
      setError(describeError(e));
    } finally {
      setSaving(false);
    }
  };
  return (
    <div class="modal-backdrop" onClick={onClose}>
      <div class="modal silence-editor" role="dialog" aria-label={d.id === null ? "New silence" : "Edit silence"} data-testid="silence-editor" onClick={(e) => e.stopPropagation()}>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void save();
        }}
      >
        <h2>{d.id === null ? "New silence" : "Edit silence"}</h2>
        <fieldset class="matchers">
          <legend>Matchers (all must match)</legend>
          {d.matchers.map((m, i) => (
            <div key={i} class="matcher-row" data-testid="matcher-row">
              <input class="input mono" aria-label="Label name" value={m.name} onInput={(e) => setMatcher(i, { name: e.currentTarget.value })} />
              <select
                class="btn select"
                aria-label="Operator"
                value={opOf(m)}
                onChange={(e) => {
                  const op = OPS.find(([o]) => o === e.currentTarget.value);
                  if (op !== undefined) setMatcher(i, { isRegex: op[1], isEqual: op[2] });
                }}
              >
                {OPS.map(([o]) => (
                  <option key={o} value={o}>
                    {o}
                  </option>
                ))}
              </select>
              <input class="input mono" aria-label="Value" value={m.value} onInput={(e) => setMatcher(i, { value: e.currentTarget.value })} />
              <button type="button" class="btn small ghost" aria-label={`Remove matcher ${m.name}`} onClick={() => set({ matchers: d.matchers.filter((_, j) => j !== i) })}>
                ✕
              </button>
            </div>
          ))}
          <button type="button" class="btn small" onClick={() => set({ matchers: [...d.matchers, { name: "", value: "", isRegex: false, isEqual: true }] })}>
            Add matcher
          </button>
        </fieldset>
        <div class="silence-fields">
          <label>
            Duration
            <input class="input" data-testid="silence-duration" value={duration} onInput={(e) => setDuration(e.currentTarget.value)} />
          </label>
          <label>
            Created by
            <input class="input" data-testid="silence-author" required value={d.createdBy} onInput={(e) => set({ createdBy: e.currentTarget.value })} />
          </label>
          <label class="wide">
            Comment
            <input class="input" data-testid="silence-comment" required value={d.comment} onInput={(e) => set({ comment: e.currentTarget.value })} />
          </label>
        </div>
        <p class="muted small" data-testid="silence-preview">
          Mutes {plural(hits.length, "alert")} firing now{hits.length > 0 ? `: ${hits.map((a) => a.labels.alertname ?? a.fingerprint).join(", ")}` : ""}.
        </p>
        {error !== null && <ErrorState title="Could not save the silence" message={error} compact />}
        <div class="modal-actions">
          <button type="button" class="btn" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" class="btn primary" data-testid="silence-save" disabled={saving}>
            {d.id === null ? "Create silence" : "Save"}
          </button>
        </div>
      </form>
      </div>
    </div>
  );
}

export function SilenceList({ list, alerts, now, onEdit }: { list: Silence[]; alerts: NotifierAlert[]; now: number; onEdit: (d: Draft) => void }) {
  const [error, setError] = useState<string | null>(null);
  if (list.length === 0) return <Empty>No silences. Silence an alert from the Alerts tab, or create one here.</Empty>;
  return (
    <div class="table-scroll">
      {error !== null && <ErrorState title="Could not expire the silence" message={error} compact />}
      <table class="table silences-table" data-testid="silences-table">
        <thead>
          <tr>
            <th>State</th>
            <th>Matchers</th>
            <th>Mutes</th>
            <th>Starts</th>
            <th>Ends</th>
            <th>Created by</th>
            <th>Comment</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {list.map((s) => (
            <tr key={s.id} data-testid="silence-row" data-id={s.id} data-state={s.state}>
              <td>
                <span class={`alert-badge silence-${s.state}`}>{s.state}</span>
              </td>
              <td class="mono">
                {s.matchers.map((m) => (
                  <span key={matcherText(m)} class="label-chip">
                    {matcherText(m)}
                  </span>
                ))}
              </td>
              <td class="num">{s.state === "expired" ? "—" : muted(s.matchers, alerts).length}</td>
              <td title={`${formatUtc(s.startsAt)} UTC`}>
                <Ago ms={s.startsAt} now={now} />
              </td>
              <td title={`${formatUtc(s.endsAt)} UTC`}>
                <Ago ms={s.endsAt} now={now} />
              </td>
              <td>{s.createdBy}</td>
              <td class="silence-comment">{s.comment}</td>
              <td class="row-actions">
                {s.state !== "expired" && (
                  <>
                    <button type="button" class="btn small" data-testid="silence-edit" onClick={() => onEdit({ ...s })}>
                      Edit
                    </button>
                    <button
                      type="button"
                      class="btn small"
                      data-testid="silence-expire"
                      onClick={() =>
                        void expireSilence(s.id).then(
                          () => refreshNow(),
                          (e: unknown) => setError(describeError(e)),
                        )
                      }
                    >
                      Expire
                    </button>
                  </>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
