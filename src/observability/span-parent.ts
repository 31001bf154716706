import type { OtelContext, OtelContextApi, OtelSpan } from "./otel-types.js";

/**
 * `@opentelemetry/api` keeps the current span in a context under this key. The API makes its keys
 * with `Symbol.for(description)` on purpose, so that every copy and version of the API agrees on
 * them; that is what lets lockstep attach a parent span without importing the API.
 */
const SPAN_KEY = Symbol.for("OpenTelemetry Context Key SPAN");

/** An immutable context holding nothing but what it is given. */
class ParentContext implements OtelContext {
  readonly #values: ReadonlyMap<symbol, unknown>;

  constructor(values: ReadonlyMap<symbol, unknown> = new Map()) {
    this.#values = values;
  }

  getValue(key: symbol): unknown {
    return this.#values.get(key);
  }

  setValue(key: symbol, value: unknown): OtelContext {
    return new ParentContext(new Map(this.#values).set(key, value));
  }

  deleteValue(key: symbol): OtelContext {
    const values = new Map(this.#values);
    values.delete(key);
    return new ParentContext(values);
  }
}

/**
 * Makes the context that parents child spans under `span`: through the API's own functions when
 * it is given (keeping the active context's other values, such as baggage), else under the API's
 * well-known span key.
 */
export function contextWithParent(span: OtelSpan, api: OtelContextApi | undefined): OtelContext {
  if (api !== undefined) return api.trace.setSpan(api.context.active(), span);
  return new ParentContext().setValue(SPAN_KEY, span);
}
