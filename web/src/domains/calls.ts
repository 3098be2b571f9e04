// Calls whose success has no body (204 No Content): openapi-fetch gives no `data` then,
// so `unwrap` cannot tell success; this checks the status instead.
import { ApiError } from "../api/client";

/** Resolves when the call answered 2xx; an ApiError with the problem's words otherwise. */
export async function succeeded(call: Promise<{ error?: unknown; response: Response }>): Promise<void> {
  const { error, response } = await call;
  if (!response.ok) throw new ApiError(response.status, error);
}
