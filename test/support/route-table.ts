/** The routes an express app serves, read from its own router, so tests cover every route there is. */
import type { Express } from 'express';

/** One route: its method (upper case) and its path pattern (`/api/v1/jobs/:id`). */
export interface RouteEntry {
  method: string;
  path: string;
}

/** The parts of express 5's router layers this reads. */
interface Layer {
  rawPath?: string;
  route?: { path: string; methods: Record<string, boolean> };
  handle?: { stack?: Layer[] };
}

function walk(stack: Layer[], prefix: string, found: RouteEntry[]): void {
  for (const layer of stack) {
    if (layer.route) {
      for (const method of Object.keys(layer.route.methods)) found.push({ method: method.toUpperCase(), path: prefix + layer.route.path });
    } else if (layer.handle?.stack) {
      const mount = layer.rawPath && layer.rawPath !== '/' ? layer.rawPath : '';
      walk(layer.handle.stack, prefix + mount, found);
    }
  }
}

/** Every route of `app`, in the order express matches them. */
export function routesOf(app: Express): RouteEntry[] {
  const found: RouteEntry[] = [];
  walk((app as unknown as { router: { stack: Layer[] } }).router.stack, '', found);
  return found;
}
