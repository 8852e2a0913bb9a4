/**
 * The webview side of the typed protocol (src/core/protocol/webview.ts): commands and requests to the host,
 * notifications from it. `acquireVsCodeApi` is provided by VS Code (and by the benchmark page's stand-in).
 */
import {
  IpcCommand,
  IpcMessage,
  IpcNotification,
  IpcParams,
  IpcRequest,
  IpcResponse,
  IpcScope,
  ReadyCommand,
  isReply,
  messageOf,
  methodOf,
  requestOf,
} from '../src/core/protocol/webview';

interface VsCodeApi {
  postMessage(message: unknown): void;
  getState(): unknown;
  setState(state: unknown): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

/** A handler as stored: its params are checked where it is registered (`on`), by the notification's type. */
type Handler = (params: unknown, message: IpcMessage) => void;

export class HostIpc {
  private readonly api: VsCodeApi = acquireVsCodeApi();
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private readonly handlers = new Map<string, Handler>();

  constructor(private readonly scope: IpcScope) {
    window.addEventListener('message', (e: MessageEvent<IpcMessage>) => this.receive(e.data));
  }

  /** Call after the notification handlers are registered: the host then sends what it held. */
  ready(want?: IpcParams<typeof ReadyCommand>['want']): void {
    this.command(ReadyCommand, { scope: this.scope, want });
  }

  command<T extends IpcCommand<unknown>>(c: T, params: IpcParams<T>): void {
    this.api.postMessage(messageOf(c, params));
  }

  request<T extends IpcRequest<unknown, unknown>>(r: T, params: IpcParams<T>): Promise<IpcResponse<T>> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve: (v) => resolve(v as IpcResponse<T>), reject });
      this.api.postMessage(requestOf(r, params, id));
    });
  }

  on<T extends IpcNotification<unknown>>(n: T, handler: (params: IpcParams<T>, message: IpcMessage) => void): void {
    this.handlers.set(methodOf(n), (p, m) => handler(p as IpcParams<T>, m));
  }

  getState<S>(): S | undefined {
    return this.api.getState() as S | undefined;
  }

  setState<S>(state: S): void {
    this.api.setState(state);
  }

  private receive(m: IpcMessage): void {
    if (!m || typeof m.method !== 'string') return;
    if (isReply(m)) {
      const p = this.pending.get(m.id!);
      if (!p) return;
      this.pending.delete(m.id!);
      if (m.error !== undefined) p.reject(new Error(m.error));
      else p.resolve(m.params);
      return;
    }
    this.handlers.get(m.method)?.(m.params, m);
  }
}
