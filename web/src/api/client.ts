// The one way the UI reaches the server: a client typed from the API's OpenAPI document
// (src/api/schema.d.ts, generated from ../openapi.json), same origin, paths under /api/v1.
import createClient, { type Middleware } from "openapi-fetch";
import type { components, paths } from "./schema";

export type Schemas = components["schemas"];

/** An answer other than 2xx, with the RFC 9457 problem's words when the API sent one. */
export class ApiError extends Error {
  readonly status: number;
  readonly title: string;
  readonly detail: string;

  constructor(status: number, body: unknown) {
    const problem = (typeof body === "object" && body !== null ? body : {}) as {
      title?: unknown;
      detail?: unknown;
    };
    const title = typeof problem.title === "string" ? problem.title : `HTTP ${status}`;
    const detail = typeof problem.detail === "string" ? problem.detail : "";
    super(detail ? `${title}: ${detail}` : title);
    this.status = status;
    this.title = title;
    this.detail = detail;
  }
}

let bearer: string | null = null;
let onUnauthorized: (() => void) | null = null;

/** The token every request carries from now on (null: none), and what to do when the
 * server stops accepting it (a log-in token expires after an hour). */
export function setBearer(token: string | null, expired: (() => void) | null = null): void {
  bearer = token;
  onUnauthorized = expired;
}

const authorize: Middleware = {
  onRequest({ request }) {
    // A request that names its own token (sign-in checks one) keeps it.
    if (bearer && !request.headers.has("Authorization")) {
      request.headers.set("Authorization", `Bearer ${bearer}`);
    }
    return request;
  },
  onResponse({ request, response }) {
    if (response.status === 401 && bearer && request.headers.get("Authorization") === `Bearer ${bearer}`) {
      onUnauthorized?.();
    }
    return response;
  },
};

export const api = createClient<paths>({ baseUrl: window.location.origin });
api.use(authorize);

/** The data of a client call, or an ApiError (or the network's error) thrown. */
export async function unwrap<T>(
  call: Promise<{ data?: T; error?: unknown; response: Response }>,
): Promise<T> {
  const { data, error, response } = await call;
  if (!response.ok || data === undefined) {
    throw new ApiError(response.status, error);
  }
  return data;
}

/** Words for a failure, for a person: the problem's detail, or what went wrong. */
export function describe(failure: unknown): string {
  if (failure instanceof ApiError) return failure.message;
  if (failure instanceof Error) return `The server could not be reached (${failure.message}).`;
  return "Something went wrong.";
}
