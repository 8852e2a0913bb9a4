/**
 * Clusters are named addresses in the setting `prpoStudio.clusters`; each one's token lives in VS Code's
 * SecretStorage (the OS keychain on a desktop), keyed by the cluster's address — never in settings, the log,
 * run files or messages.
 */
import * as vscode from 'vscode';
import { ClusterError, RayJobsClient, normalizeAddress } from '../../core/cluster';

export interface ClusterConfig {
  name: string;
  /** The Ray dashboard URL, normalised. */
  address: string;
  /** The Python on the cluster that has prpo_studio (default `python`). */
  python?: string;
}

/** The clusters of the setting; malformed entries are reported through `onIssue` and left out. */
export function configuredClusters(onIssue: (text: string) => void = () => {}): ClusterConfig[] {
  const raw = vscode.workspace.getConfiguration('prpoStudio').get<unknown[]>('clusters') ?? [];
  const out: ClusterConfig[] = [];
  (Array.isArray(raw) ? raw : []).forEach((value, i) => {
    const where = `prpoStudio.clusters[${i}]`;
    const v = value as Partial<Record<string, unknown>>;
    if (typeof v !== 'object' || v === null || typeof v.name !== 'string' || !v.name.trim() || typeof v.address !== 'string') {
      return onIssue(`${where}: expected { "name": "…", "address": "http://head-node:8265" }`);
    }
    if (out.some((c) => c.name === v.name)) return onIssue(`${where}: a second cluster named "${v.name}"; the first one is used`);
    try {
      out.push({ name: v.name.trim(), address: normalizeAddress(v.address), python: typeof v.python === 'string' && v.python.trim() ? v.python.trim() : undefined });
    } catch (e) {
      onIssue(`${where}.address: ${(e as Error).message}`);
    }
  });
  return out;
}

export function affectsClusters(e: vscode.ConfigurationChangeEvent): boolean {
  return e.affectsConfiguration('prpoStudio.clusters');
}

const secretKey = (address: string) => `prpoStudio.clusterToken:${address}`;

export class ClusterTokens {
  constructor(private readonly secrets: vscode.SecretStorage) {}

  get(cluster: ClusterConfig): Thenable<string | undefined> {
    return this.secrets.get(secretKey(cluster.address));
  }

  async set(cluster: ClusterConfig, token: string | undefined): Promise<void> {
    if (token) await this.secrets.store(secretKey(cluster.address), token);
    else await this.secrets.delete(secretKey(cluster.address));
  }

  async client(cluster: ClusterConfig): Promise<RayJobsClient> {
    return new RayJobsClient({ address: cluster.address, token: (await this.get(cluster)) || undefined });
  }
}

/** A cluster picked by the user (at once when there is only one); undefined after saying why. */
export async function pickCluster(title: string, preferred?: string): Promise<ClusterConfig | undefined> {
  const clusters = configuredClusters();
  if (clusters.length === 0) {
    const choice = await vscode.window.showWarningMessage('No Ray cluster is configured: add one to the setting prpoStudio.clusters ({ "name", "address" }).', 'Open Settings');
    if (choice) await vscode.commands.executeCommand('workbench.action.openSettingsJson', { revealSetting: { key: 'prpoStudio.clusters' } });
    return undefined;
  }
  if (clusters.length === 1) return clusters[0];
  const picked = await vscode.window.showQuickPick(
    [...clusters].sort((a, b) => Number(b.name === preferred) - Number(a.name === preferred)).map((c) => ({ label: c.name, description: c.address, cluster: c })),
    { title, ignoreFocusOut: true },
  );
  return picked?.cluster;
}

/** A ClusterError's message with the cluster's name in front; other errors as they are. */
export function clusterMessage(cluster: ClusterConfig, e: unknown): string {
  const text = e instanceof Error ? e.message : String(e);
  return e instanceof ClusterError ? `Cluster "${cluster.name}": ${text}` : text;
}
