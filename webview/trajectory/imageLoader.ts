/**
 * The task images a step's groups show, asked of the host once per path (it reads them inside the run directory
 * and answers with a data: URL) and kept while the view is open; a failed read is asked again by a later render.
 */
import { GetImageRequest } from '../../src/core/protocol/webview';
import { HostIpc } from '../ipc';

export function imageLoader(ipc: HostIpc): (path: string) => Promise<HTMLImageElement> {
  const cache = new Map<string, Promise<HTMLImageElement>>();
  return (path) => {
    let p = cache.get(path);
    if (!p) {
      p = ipc.request(GetImageRequest, { image: path }).then(
        (r) =>
          new Promise<HTMLImageElement>((resolve, reject) => {
            if (!r.dataUrl) return reject(new Error(r.error ?? `Cannot load ${path}`));
            const img = new Image();
            img.onload = () => resolve(img);
            img.onerror = () => reject(new Error(`${path} is not a readable image.`));
            img.src = r.dataUrl;
          }),
      );
      cache.set(path, p);
      p.catch(() => cache.delete(path)); // a later render asks again
    }
    return p;
  };
}
