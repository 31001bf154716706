const RAW = new WeakMap<object, object>();

/**
 * The object a proxy made by {@link proxyAdapter} stands for, one layer down; any other value as it
 * is. Adapters get their own handles back this way, so a wrapped transaction handle passed to a
 * log's `coCommit.create` or `coCommit.write` reaches the log unwrapped.
 */
export function unwrapProxy<T>(value: T): T {
  if (typeof value !== "object" || value === null) return value;
  return (RAW.get(value) as T | undefined) ?? value;
}

/**
 * A proxy that reads through to `real`. `decorate` sees each property as it is read and returns its
 * replacement (a wrapped method, a wrapped handle) or `undefined` to keep it; a function it keeps is
 * bound to `real`, so classes with private fields keep working. Writes and key listings go to
 * `real`.
 *
 * The proxy's own target is an empty object rather than `real`, because `real` is often frozen and a
 * proxy of a frozen object may not report a property differently from the object itself.
 */
export function proxyAdapter<T extends object>(
  real: T,
  decorate: (key: string, value: unknown) => unknown,
): T {
  const cache = new Map<PropertyKey, { readonly source: unknown; readonly value: unknown }>();
  const read = (key: PropertyKey): unknown => {
    const source = Reflect.get(real, key, real);
    const cached = cache.get(key);
    if (cached !== undefined && cached.source === source) return cached.value;
    let value = typeof key === "string" ? decorate(key, source) : undefined;
    if (value === undefined) {
      value =
        typeof source === "function"
          ? (source as (...args: unknown[]) => unknown).bind(real)
          : source;
    }
    if (typeof source === "function" || value !== source) cache.set(key, { source, value });
    return value;
  };
  const proxy = new Proxy(Object.create(null) as object, {
    get: (_target, key) => read(key),
    set: (_target, key, value) => Reflect.set(real, key, value, real),
    has: (_target, key) => Reflect.has(real, key),
    ownKeys: () => Reflect.ownKeys(real),
    getOwnPropertyDescriptor: (_target, key) => {
      const own = Reflect.getOwnPropertyDescriptor(real, key);
      if (own === undefined) return undefined;
      return {
        configurable: true,
        enumerable: own.enumerable ?? false,
        writable: true,
        value: read(key),
      };
    },
    getPrototypeOf: () => Reflect.getPrototypeOf(real),
    defineProperty: () => false,
    deleteProperty: () => false,
  }) as T;
  RAW.set(proxy, real);
  return proxy;
}
