import { describeValue } from "../../core/validate.js";
import { LockstepDefinitionError } from "../../model/definition-error.js";

/**
 * What is wrong with a document path, or `undefined`. A path is relative to the store's `baseUrl`:
 * non-empty segments separated by `/`, none of them `.` or `..`, so no path can leave the base.
 */
export function pathProblem(path: unknown): string | undefined {
  if (typeof path !== "string" || path.length === 0) {
    return `Expected a document path to be a non-empty string, got ${describeValue(path)}.`;
  }
  const segments = path.split("/");
  if (segments.some((s) => s.length === 0 || s === "." || s === "..")) {
    return `Expected document path ${describeValue(path)} to be relative segments separated by "/", with no empty, "." or ".." segment.`;
  }
  return undefined;
}

/**
 * Normalizes a store's base URL: absolute `http:` or `https:`, no query or fragment, ending in `/`.
 * Throws a {@link LockstepDefinitionError} otherwise.
 */
export function normalizeBaseUrl(baseUrl: unknown): URL {
  let url: URL;
  try {
    url = new URL(baseUrl instanceof URL ? baseUrl.href : String(baseUrl));
  } catch {
    throw new LockstepDefinitionError(
      `Expected \`baseUrl\` to be an absolute http(s) URL, got ${describeValue(baseUrl)}.`,
    );
  }
  if ((url.protocol !== "http:" && url.protocol !== "https:") || typeof baseUrl === "number") {
    throw new LockstepDefinitionError(
      `Expected \`baseUrl\` to be an absolute http(s) URL, got ${describeValue(String(baseUrl))}.`,
    );
  }
  if (url.search !== "" || url.hash !== "") {
    throw new LockstepDefinitionError(
      `Expected \`baseUrl\` to have no query or fragment, got ${describeValue(url.href)}.`,
    );
  }
  if (!url.pathname.endsWith("/")) url.pathname = `${url.pathname}/`;
  return url;
}

/** The URL of a document: each path segment percent-encoded under the base. */
export function documentUrl(base: URL, path: string): URL {
  const encoded = path.split("/").map(encodeURIComponent).join("/");
  return new URL(encoded, base);
}
