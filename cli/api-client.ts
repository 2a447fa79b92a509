/**
 * The admin CLI's way to the REST api: one request at a time with the admin token, JSON in and out. An
 * answer that is not a success becomes a CliError carrying the api's own code and message, which the CLI
 * prints and exits non-zero with.
 */
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';

/** A failure to show the user as it is: one line, and the process's exit code. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** Where the api is and who the CLI is to it. */
export interface Connection {
  url: string;
  token: string;
}

/** The api's error body (docs/api.md). */
interface ErrorBody {
  error?: { code?: string; message?: string };
}

/** Requests to the api as the admin. */
export class ApiClient {
  private readonly base: string;

  constructor(private readonly connection: Connection) {
    this.base = `${connection.url.replace(/\/+$/, '')}/api/v1`;
  }

  get<T>(path: string): Promise<T> {
    return this.request<T>('GET', path);
  }

  post<T>(path: string, body?: unknown): Promise<T> {
    return this.request<T>('POST', path, body);
  }

  put<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>('PUT', path, body);
  }

  patch<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>('PATCH', path, body);
  }

  delete<T>(path: string): Promise<T> {
    return this.request<T>('DELETE', path);
  }

  /** Uploads a package: the manifest as JSON and the file's bytes, as `curl -F` would. */
  async upload<T>(manifest: Record<string, unknown>, file: string): Promise<T> {
    const form = new FormData();
    form.append('manifest', JSON.stringify(manifest));
    form.append('content', new Blob([await readFile(file)]), basename(file));
    return this.send<T>('POST', '/packages', { body: form });
  }

  private request<T>(method: string, path: string, body?: unknown): Promise<T> {
    if (body === undefined) return this.send<T>(method, path, {});
    return this.send<T>(method, path, { body: JSON.stringify(body), contentType: 'application/json' });
  }

  private async send<T>(method: string, path: string, { body, contentType }: { body?: FormData | string; contentType?: string }): Promise<T> {
    let response: Response;
    try {
      response = await fetch(`${this.base}${path}`, {
        method,
        headers: { authorization: `Bearer ${this.connection.token}`, ...(contentType && { 'content-type': contentType }) },
        body,
      });
    } catch (error) {
      const cause = (error as { cause?: { message?: string } }).cause?.message ?? (error as Error).message;
      throw new CliError(`cannot reach the Courier api at ${this.connection.url}: ${cause}`);
    }
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      throw new CliError(`the api answered HTTP ${response.status} with something other than JSON`);
    }
    if (!response.ok) {
      const { error } = (parsed ?? {}) as ErrorBody;
      throw new CliError(`${error?.message ?? `HTTP ${response.status}`} (${error?.code ?? response.status})`);
    }
    return parsed as T;
  }
}
