/**
 * The part of OpenTelemetry's tracing API that {@link otelListener} uses, declared structurally so
 * lockstep needs `@opentelemetry/api` neither at run time nor in its type declarations: a `Tracer`
 * from `@opentelemetry/api` (1.x) is an {@link OtelTracer} as it is.
 *
 * @module
 */

/** An attribute value, as OpenTelemetry accepts it. */
export type OtelAttributeValue = string | number | boolean;

/** Span or event attributes. */
export type OtelAttributes = Readonly<Record<string, OtelAttributeValue>>;

/**
 * An OpenTelemetry context: an immutable map from symbols to values. `@opentelemetry/api`'s
 * `Context` is one.
 */
export interface OtelContext {
  /** The value stored under `key`, if any. */
  getValue(key: symbol): unknown;
  /** A new context with `value` under `key`. */
  setValue(key: symbol, value: unknown): OtelContext;
  /** A new context without `key`. */
  deleteValue(key: symbol): OtelContext;
}

/** The options of {@link OtelTracer.startSpan} that lockstep sets. */
export interface OtelSpanOptions {
  /** Attributes set when the span starts. */
  attributes?: OtelAttributes;
  /** When the span started, in milliseconds since the epoch. */
  startTime?: number;
}

/** A span: the methods lockstep calls on `@opentelemetry/api`'s `Span`. */
export interface OtelSpan {
  /** Sets one attribute. */
  setAttribute(key: string, value: OtelAttributeValue): unknown;
  /** Adds a timed event with attributes. */
  addEvent(name: string, attributes?: OtelAttributes, time?: number): unknown;
  /** Sets the span's status: `code` 1 is OK, 2 is ERROR. */
  setStatus(status: { code: number; message?: string }): unknown;
  /** Ends the span at `endTime`, in milliseconds since the epoch. */
  end(endTime?: number): void;
}

/** A tracer: `@opentelemetry/api`'s `Tracer` fits, e.g. `trace.getTracer("my-service")`. */
export interface OtelTracer {
  /** Starts a span; without `context`, its parent is the active span, if any. */
  startSpan(name: string, options?: OtelSpanOptions, context?: OtelContext): OtelSpan;
}

/**
 * The two functions of `@opentelemetry/api` that attach a span to a context; pass the API module
 * itself (`import * as api from "@opentelemetry/api"`).
 */
export interface OtelContextApi {
  /** `@opentelemetry/api`'s `trace`: only `setSpan` is used. */
  readonly trace: {
    /** A copy of `context` with `span` as its current span. */
    setSpan(context: OtelContext, span: OtelSpan): OtelContext;
  };
  /** `@opentelemetry/api`'s `context`: only `active` is used. */
  readonly context: {
    /** The active context. */
    active(): OtelContext;
  };
}
