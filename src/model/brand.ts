/**
 * Whether `value` carries `brand` (a `Symbol.for` key) set to `true`.
 *
 * lockstep's error classes mark their instances with a registered symbol instead of relying on
 * `instanceof`, because an application can load two copies of lockstep (its ESM and its CJS build, or
 * two versions) and `instanceof` fails across copies while `Symbol.for` keys are shared by the whole
 * runtime. Every class's static `is()` is this one check.
 */
export function hasBrand(value: unknown, brand: symbol): boolean {
  return (
    typeof value === "object" &&
    value !== null &&
    (value as Record<symbol, unknown>)[brand] === true
  );
}
