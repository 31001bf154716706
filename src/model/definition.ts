import { z } from "zod";
import { StepKind } from "./step-kind.js";

/**
 * A saga's shape as plain data — its name, version, and each step's name, kind, store id and which
 * functions it has. Written into every saga record and compared with the definition a recoverer
 * holds, so a saga is never recovered by code of another shape. This schema is the one source of the
 * {@link SagaDefinition} type.
 */
export const sagaDefinitionSchema = z
  .object({
    name: z.string().min(1),
    version: z.number().int().min(1),
    steps: z
      .array(
        z
          .object({
            name: z.string().min(1),
            kind: z.enum([StepKind.Compensatable, StepKind.Pivot, StepKind.Retriable]),
            store: z.string().min(1),
            probe: z.boolean(),
            compensate: z.boolean(),
          })
          .readonly(),
      )
      .readonly(),
  })
  .readonly();

/** A saga's shape as plain data: logged with every saga, and compared with the log on recovery. */
export type SagaDefinition = z.infer<typeof sagaDefinitionSchema>;
