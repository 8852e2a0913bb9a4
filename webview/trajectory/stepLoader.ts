/**
 * Getting a step's rollouts into the view. Opening a step: the host's first reply (the first rollouts, the
 * step's ranges and its total), drawn at once; then the rest pulled one part at a time while the step is still
 * on show. Live rollouts (follow): queued and applied once per frame, appended without rebuilding what is on
 * screen; a live rollout of a newer step opens that step.
 */
import {
  GetDetailsRequest,
  GetStepPartRequest,
  GetStepRequest,
  IpcResponse,
  type StepReply,
  SetFollowCommand,
  ShowMessageCommand,
} from '../../src/core/protocol/webview';
import type { PackedRollouts, TokenField } from '../../src/core/view/pack';
import type { SignalId } from '../../src/core/view/signals';
import { issuesSummary } from '../../src/core/run/lines';
import { HostIpc } from '../ipc';
import { displayString } from '../text';
import { RolloutRef, StepData } from './model';
import { Report, afterPaint } from './perf';
import { Toolbar } from './toolbar';
import { ViewState } from './viewState';
import { WindowedList } from './windowedList';

/** Within this many px of the bottom, the list counts as scrolled to the end (follow keeps it there). */
const AT_BOTTOM_PX = 40;

interface Arrival {
  batch: PackedRollouts;
  /** When the trainer (else the host) sent it, and when the host posted it (live rollouts), ms since the epoch. */
  sentAt?: number;
  postedAt?: number;
  received: number;
  /** A part of the step being opened (not live); `last` when it completes the step. */
  opening?: { last: boolean };
}

export interface StepLoaderParts {
  ipc: HostIpc;
  state: ViewState;
  list: WindowedList;
  toolbar: Toolbar;
  /** The status line (progress and errors while loading) and the problems found reading the step. */
  status: HTMLElement;
  issues: HTMLElement;
  report: Report;
  renderLegend(): void;
  updateStatus(): void;
  /** A step opened now should come with every column at once (the what-if panel is open, or about to be). */
  needsAllColumns(): boolean;
  saveState(): void;
}

export class StepLoader {
  /** Live rollouts of the step being opened that arrived before its first reply. */
  private pendingAppends: PackedRollouts[] = [];
  private queue: Arrival[] = [];
  private frameScheduled = false;
  /** When the step on show was asked for (for `trajectory.complete`). */
  private openedAt = 0;

  constructor(private readonly p: StepLoaderParts) {}

  /** The columns the first screen of a step needs: the colour in view (undefined: every column). */
  firstFields(): TokenField[] | undefined {
    const s = this.p.state;
    // The what-if panel, when open, needs every column, and a followed live step is small and had better not cost
    // a second message each time it moves on.
    if (this.p.needsAllColumns() || s.follow) return undefined;
    return s.def.field ? [s.def.field] : [];
  }

  /** Opens `step`; `given`: its first part, already sent by the host (with `init`), for the columns `only`. */
  async load(step: number, given?: { reply: StepReply; only: TokenField[] | undefined }): Promise<void> {
    const { ipc, state: s, status, report } = this.p;
    if (s.loadingStep === step || (s.data?.step === step && s.loadingStep === undefined)) return;
    s.loadingStep = step;
    this.pendingAppends = [];
    const t0 = performance.now();
    status.textContent = `Loading step ${step}…`;
    try {
      const only = given ? given.only : this.firstFields();
      const { rollouts, issues, timing, total, ranges } = given?.reply ?? (await ipc.request(GetStepRequest, { step, fields: only }));
      if (s.loadingStep !== step) return;
      const tMsg = performance.now();
      if (timing) {
        report('trajectory.hostRead', timing.readMs);
        report('trajectory.hostPack', timing.packMs);
        report('trajectory.transfer', Date.now() - timing.sentAt);
      }
      const data = (s.data = new StepData(step));
      data.add(rollouts);
      if (only) data.awaitingDetails = true;
      for (const p of this.pendingAppends.splice(0)) if (p.step === step) data.add(p);
      // The step's ranges come from the host, computed over what it has read (all of it when `total` is given):
      // the first ones drawn already use them; the last part brings those of the whole step.
      s.ranges.reset(ranges);
      s.expectedTotal = total;
      this.openedAt = t0;
      s.loadingStep = undefined;
      if (total === undefined || rollouts.meta.length < total) void this.pullParts(step, rollouts.meta.length);
      this.showIssues(issues);
      this.p.toolbar.updateSignalOptions();
      this.p.toolbar.updateStepOptions();
      this.p.renderLegend();
      this.p.list.relayout();
      afterPaint(() => {
        report('trajectory.firstPaint', performance.now() - t0);
        if (only) void this.fetchDetails(data, rollouts, only);
      });
      afterPaint(() => report('trajectory.renderPaint', performance.now() - tMsg));
      report('trajectory.reply', tMsg - t0);
      this.p.saveState();
      if (s.follow) ipc.command(SetFollowCommand, { follow: s.follow, step });
      // Steps written while this one was being read (their rollouts were not for it): follow on to the newest.
      this.followLatest();
    } catch (err) {
      if (s.loadingStep === step) s.loadingStep = undefined;
      status.textContent = `Cannot load step ${step}: ${err instanceof Error ? err.message : String(err)}`;
      ipc.command(ShowMessageCommand, { level: 'error', message: status.textContent });
    }
  }

  /** Live rollouts (RolloutsAppendedNotification), sent at `sentAt` by the trainer, posted at `postedAt` by the host. */
  onAppended(batch: PackedRollouts, sentAt: number | undefined, postedAt?: number): void {
    const s = this.p.state;
    if (s.follow && !s.steps.includes(batch.step)) s.steps = [...s.steps, batch.step].sort((a, b) => a - b);
    if (s.loadingStep !== undefined) {
      // A newer step's rollouts while one is being read: dropped here, the newer step is opened when the read
      // is done (followLatest), whatever order the last notifications of a run arrive in.
      if (batch.step === s.loadingStep) this.pendingAppends.push(batch);
      return;
    }
    if (!s.data || batch.step !== s.data.step) {
      this.followLatest();
      return;
    }
    this.enqueue({ batch, sentAt: sentAt ?? postedAt, postedAt, received: performance.now() });
  }

  /**
   * While following, opens the newest step the run has written unless it is on show or being read (then the
   * read's end calls this again). Called on every new step, live rollout and finished read, so following ends
   * on the last step written.
   */
  followLatest(): void {
    const s = this.p.state;
    if (!s.follow || s.loadingStep !== undefined || !s.steps.length) return;
    const latest = s.steps[s.steps.length - 1];
    if (!s.data || latest > s.data.step) void this.load(latest);
  }

  /**
   * What the first reply left out (the other columns, token ids, top alternatives), asked for after the first
   * paint: then the signal picker offers every signal, the hover card shows every field, and the what-if panel
   * may compute.
   */
  private async fetchDetails(data: StepData, batch: PackedRollouts, sent: TokenField[]): Promise<void> {
    try {
      const details = await this.p.ipc.request(GetDetailsRequest, { step: data.step, from: 0, to: batch.meta.length, except: sent });
      if (this.p.state.data !== data) return;
      Object.assign(batch.fields, details.fields);
      batch.tokenIds = details.tokenIds;
      batch.alternatives = details.alternatives;
    } catch {
      return; // the host dropped the step (another one was opened)
    }
    data.awaitingDetails = false;
    this.p.toolbar.updateSignalOptions();
    this.p.renderLegend();
    this.p.list.recolour();
    this.p.updateStatus();
  }

  /** Pulls the rest of a step being opened, one part at a time, while it is still the step on show. */
  private async pullParts(step: number, from: number): Promise<void> {
    const s = this.p.state;
    const onShow = () => s.data?.step === step && s.loadingStep === undefined;
    while (onShow()) {
      let part: IpcResponse<typeof GetStepPartRequest>;
      try {
        part = await this.p.ipc.request(GetStepPartRequest, { step, from });
      } catch {
        return; // the host dropped the step (another one was opened)
      }
      if (!onShow()) return;
      from += part.rollouts.meta.length;
      const last = part.last || part.rollouts.meta.length === 0;
      if (last) this.wholeStep(part);
      this.enqueue({ batch: part.rollouts, received: performance.now(), opening: { last } });
      if (last) return;
    }
  }

  /** The banner over the step: the problems found reading it, or nothing. */
  private showIssues(issues: string[]): void {
    this.p.issues.hidden = issues.length === 0;
    this.p.issues.textContent = displayString(issuesSummary(issues, 'this step'));
  }

  /** The whole step is read: its total, and the ranges and problems over all of it (recolouring if they moved). */
  private wholeStep({ total, ranges, issues }: { total?: number; ranges?: Partial<Record<SignalId, number>>; issues?: string[] }): void {
    const s = this.p.state;
    if (total !== undefined) s.expectedTotal = total;
    if (issues) this.showIssues(issues);
    if (ranges && s.ranges.reset(ranges, s.signal)) this.p.list.recolour();
    this.p.renderLegend();
  }

  private enqueue(item: Arrival): void {
    this.queue.push(item);
    if (!this.frameScheduled) {
      this.frameScheduled = true;
      requestAnimationFrame(() => this.flush());
    }
  }

  private flush(): void {
    const { state: s, list, report } = this.p;
    this.frameScheduled = false;
    const items = this.queue;
    this.queue = [];
    const data = s.data;
    if (!data) return;
    const el = list.el;
    const atBottom = el.scrollHeight - el.scrollTop - el.clientHeight < AT_BOTTOM_PX;
    const added: RolloutRef[] = [];
    for (const it of items) if (it.batch.step === data.step) added.push(...data.add(it.batch));
    // Live rollouts widen (never narrow) the shared ranges; recolour what is built if the current one moved.
    // (The parts of a step being opened are covered by the whole step's ranges, which its last part brings.)
    const live = added.filter((ro) => !items.some((it) => it.opening && it.batch === ro.batch));
    if (s.ranges.widen(live, s.signal)) {
      this.p.renderLegend();
      list.recolour();
    }
    list.append(added);
    const complete = items.some((it) => it.opening?.last);
    if (complete && s.filter.sort !== 'natural') {
      // Parts arrive in file order: once the step is whole, put it in the chosen order (keeping the scroll).
      const top = el.scrollTop;
      list.relayout();
      el.scrollTop = top;
    }
    this.p.updateStatus();
    if (s.follow && atBottom) el.scrollTop = el.scrollHeight;
    afterPaint(() => {
      const now = performance.now();
      const wall = Date.now();
      for (const it of items) {
        if (it.opening) continue;
        report('trajectory.appendPaint', now - it.received);
        if (it.sentAt !== undefined) report('trajectory.streamLatency', wall - it.sentAt);
        if (it.postedAt !== undefined) report('trajectory.streamFromHost', wall - it.postedAt);
      }
      if (complete) report('trajectory.complete', now - this.openedAt);
    }, true); // flush runs in a frame callback: the rollouts appear in this frame's paint
  }
}
