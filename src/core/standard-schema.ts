/**
 * The Standard Schema interface (https://standardschema.dev), inlined so Arbiter depends on no
 * validation library: zod, valibot, arktype… all implement `~standard`.
 */
export interface StandardSchemaV1<Input = unknown, Output = Input> {
  readonly '~standard': {
    readonly version: 1;
    readonly vendor: string;
    readonly validate: (value: unknown) => StandardResult<Output> | Promise<StandardResult<Output>>;
    readonly types?: { readonly input: Input; readonly output: Output } | undefined;
  };
}

export type StandardResult<Output> =
  { readonly value: Output; readonly issues?: undefined } | { readonly issues: readonly StandardIssue[] };

export interface StandardIssue {
  readonly message: string;
  readonly path?: ReadonlyArray<PropertyKey | { readonly key: PropertyKey }> | undefined;
}

export type InferInput<S> = S extends StandardSchemaV1<infer I, unknown> ? I : unknown;
export type InferOutput<S> = S extends StandardSchemaV1<unknown, infer O> ? O : unknown;

export function isStandardSchema(value: unknown): value is StandardSchemaV1 {
  const std = (value as { '~standard'?: { validate?: unknown } } | null)?.['~standard'];
  return !!std && typeof std === 'object' && typeof std.validate === 'function';
}

/** "path.to.field: message; other: message" — short enough for an error column or a log line. */
export function formatIssues(issues: readonly StandardIssue[]): string {
  return issues
    .slice(0, 10)
    .map((i) => {
      const path = (i.path ?? [])
        .map((p) => String(typeof p === 'object' && p !== null ? p.key : p))
        .join('.');
      return path ? `${path}: ${i.message}` : i.message;
    })
    .join('; ');
}

export type SchemaCheck<O> = { ok: true; value: O } | { ok: false; message: string };

/** Validates with a Standard Schema; never throws (a throwing validator is reported as a failure). */
export async function runSchema<O>(
  schema: StandardSchemaV1<unknown, O>,
  value: unknown,
): Promise<SchemaCheck<O>> {
  try {
    const result = await schema['~standard'].validate(value);
    if (result.issues) return { ok: false, message: formatIssues(result.issues) || 'invalid payload' };
    return { ok: true, value: result.value };
  } catch (err) {
    return {
      ok: false,
      message: `schema validation threw: ${err instanceof Error ? err.message : String(err)}`,
    };
  }
}
